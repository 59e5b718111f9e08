"""Stage scl@<dataset>: supervised contrastive learning of log M* from one input set (SPEC §5), then
inference on every galaxy (galaxy_xai.models.scl_training, shared with stage mi_estimate).

Outputs out/scl/<dataset>/ (predictions.parquet, latent.npy, p.npy, model.keras, input_stats.json,
training_log.csv, summary.json; rows in catalogue order) and out/metrics/scl_<dataset>.json (bias,
σ_MAD, η per estimate and split, CRPS, mean cross-entropy).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, scl as scl_config, train as train_config
from galaxy_xai.models.scl_training import checked_dataset, train_and_infer

log = runtime.logger("scl")


def main(dataset: str) -> None:
    params = read_params()
    cfg, train = scl_config.load(params), train_config.load(params)  # train: precision, distribute
    summary = train_and_infer(checked_dataset(dataset, "scl"), cfg, layout.scl(dataset), mi_only=False, train_cfg=train)
    layout.write_metrics(f"scl_{dataset}", summary)


if __name__ == "__main__":
    runtime.run(main)
