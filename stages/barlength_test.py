"""Stage barlength_test: each mode's best validation cell applied to the test bars (SPEC §3).

Outputs: out/barlength_test/lengths.csv (the chosen cell's lengths), out/metrics/barlength.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, xai as xai_config
from galaxy_xai.studies.bars import bar_test, load_bar_data, read_randomisation, write_lengths


def main() -> None:
    params = read_params()
    data, xai = data_config.load(params), xai_config.load(params)
    bars = load_bar_data(layout.prepared("galaxy_zoo"), xai.validation_split, data.random_seed, xai.backbones)
    randomisation = {m: read_randomisation(layout.heatmaps(m)) for m in xai.backbones}
    metrics, lengths = bar_test(bars, xai, data.truth, layout.barlength_search(), data.random_seed, randomisation)
    write_lengths(layout.barlength_test().lengths, lengths)
    layout.write_metrics("barlength", metrics)


if __name__ == "__main__":
    runtime.run(main)
