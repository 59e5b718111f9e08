"""Stage control: Xception regressing the catalogue bar length directly from GZ2 images (SPEC §3),
scored on the heatmap lengths' test galaxies.

Outputs: out/control/ (model.keras, lengths.csv), out/metrics/control.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, model as model_config, read_params, train as train_config
from galaxy_xai.config import xai as xai_config
from galaxy_xai.studies.control import control

log = runtime.logger("control")


def main() -> None:
    params = read_params()
    data, train, model = data_config.load(params), train_config.load(params), model_config.load(params)
    cfg = xai_config.load(params).control
    metrics = control(layout.prepared("galaxy_zoo"), layout.barlength_test(), data, train, model, cfg, out=layout.control())
    layout.write_metrics("control", metrics)
    log.info("control: %s", metrics)


if __name__ == "__main__":
    runtime.run(main)
