"""Stage mi_estimate@<dataset>: the MI estimator of one input set (SPEC §7): the SCL encoder and
estimator without decoder (e = 0), trained on the cross-entropy alone; then the per-galaxy
cross-entropy −log p(true bin) on every galaxy.

One estimator per distinct input set in `mi.datasets`, however many pairs use it; unions are named
"A+B" (images stay the main input). Outputs out/mi/estimate/<dataset>/: predictions.parquet (row,
split, target, est_mean, est_mode, est_median, cross_entropy), latent.npy, p.npy, model.keras,
input_stats.json, training_log.csv, and summary.json (settings, timing, per-split metrics).
"""
import sys
from pathlib import Path

from galaxy_xai.io import load_params
from galaxy_xai.models.scl_training import (
    ESTIMATOR_KEYS, PREPARED, checked_dataset, estimator_settings, train_and_infer,
)

MI_KEYS = ESTIMATOR_KEYS + ("datasets", "pairs")


def main(name, params_path="params.yaml", prepared=PREPARED, out_root="out/mi/estimate"):
    cfg = estimator_settings(load_params(params_path), "mi", MI_KEYS, params_path)
    name = checked_dataset(name, "mi", params_path)
    train_and_infer(name, cfg, True, Path(out_root) / name, "mi_estimate", prepared)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
