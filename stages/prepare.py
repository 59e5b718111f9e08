"""Stage prepare: the three source layouts named in `data` decoded into out/prepared/<family>/."""
from galaxy_xai import runtime
from galaxy_xai.config import data as data_config, prepare as prepare_config, read_params
from galaxy_xai.data.prepare import prepare_all


def main() -> None:
    params = read_params()
    prepare_all(data_config.load(params), prepare_config.load(params))


if __name__ == "__main__":
    runtime.run(main)
