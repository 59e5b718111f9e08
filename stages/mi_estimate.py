"""Stage mi_estimate@<dataset>: the MI estimator of one input set (SPEC §7): the SCL encoder and
estimator without decoder, trained on the cross-entropy alone, then −log p(true bin) per galaxy.

One estimator per input set in `mi.datasets` (unions named "A+B"). Outputs out/mi/estimate/<dataset>/:
predictions.parquet, latent.npy, p.npy, model.keras, input_stats.json, training_log.csv, summary.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import mi as mi_config, read_params, train as train_config
from galaxy_xai.models.scl_training import checked_dataset, train_and_infer

log = runtime.logger("mi_estimate")


def main(dataset: str) -> None:
    params = read_params()
    cfg, train = mi_config.load(params), train_config.load(params)  # train: precision, distribute
    train_and_infer(checked_dataset(dataset, "mi"), cfg, layout.mi_estimate(dataset), mi_only=True, train_cfg=train)


if __name__ == "__main__":
    runtime.run(main)
