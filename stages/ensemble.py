"""Stage ensemble: the mean of the three models' predictions, and every model's scores (SPEC §2).

Outputs: out/predictions/ensemble/, out/metrics/morphology.json (test scores only with data.truth).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params
from galaxy_xai.studies.morphology import ensemble


def main() -> None:
    data = data_config.load(read_params())
    layout.write_metrics("morphology", ensemble(layout.prepared("galaxy_zoo"), data.truth))


if __name__ == "__main__":
    runtime.run(main)
