"""Stage heatmaps@<model>: SmoothGrad maps of the bar output for the bar-catalogue galaxies (SPEC §3).

Outputs: out/heatmaps/<model>/ (heatmaps.npy, index.parquet).
"""
import keras

from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, xai as xai_config
from galaxy_xai.studies.heatmaps import bar_heatmaps
from galaxy_xai.studies.morphology import backbone_name


def main(name: str) -> None:
    name = backbone_name(name)
    params = read_params()
    data, xai = data_config.load(params), xai_config.load(params)
    model = keras.models.load_model(layout.morphology(name).need("model"))
    bar_heatmaps(model, layout.prepared("galaxy_zoo"), xai, data.random_seed, out=layout.heatmaps(name))


if __name__ == "__main__":
    runtime.run(main)
