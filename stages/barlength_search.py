"""Stage barlength_search: the validation grid over corr_threshold × len_threshold × xinput per mode.

Outputs: out/barlength_search/ (search.csv, best_cells.csv, chosen.json).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, xai as xai_config
from galaxy_xai.studies.bars import load_bar_data, search, write_search


def main() -> None:
    params = read_params()
    data, xai = data_config.load(params), xai_config.load(params)
    bars = load_bar_data(layout.prepared("galaxy_zoo"), xai.validation_split, data.random_seed, xai.backbones)
    write_search(layout.barlength_search(), *search(bars, xai))


if __name__ == "__main__":
    runtime.run(main)
