"""Stage train_morphology@<model>: a Galaxy Zoo vote regressor (SPEC §2), logged with dvclive.

Outputs: out/morphology/<model>/ (model.keras, training_log.csv, live/), out/metrics/train_<model>.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, model as model_config, read_params, train as train_config
from galaxy_xai.studies.morphology import backbone_name, train_backbone


def main(name: str) -> None:
    name = backbone_name(name)
    params = read_params()
    data, train, model = data_config.load(params), train_config.load(params), model_config.load(params)
    metrics = train_backbone(name, data, train, model, layout.prepared("galaxy_zoo"), out=layout.morphology(name))
    layout.write_metrics(f"train_{name}", metrics)


if __name__ == "__main__":
    runtime.run(main)
