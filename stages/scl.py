"""Stage scl@<dataset>: supervised contrastive learning of log M* from one named input set (SPEC §5),
then inference on every galaxy: main latent, p(y), mean / mode / median, per-galaxy cross-entropy.

Training, inference and metrics live in galaxy_xai/models/scl_training.py, shared with the MI
estimators (stage mi_estimate, `mi_only=True`: no decoder, cross-entropy only).

Outputs, rows in catalogue order (docs/prepared_layout.md), under out/scl/<dataset>/:
    predictions.parquet   row, split, target, est_mean, est_mode, est_median, cross_entropy
    latent.npy            float32 [n, m] main latents (same row order)
    p.npy                 float16 [n, bins] p(y)
    model.keras, input_stats.json, training_log.csv
and out/metrics/scl_<dataset>.json (bias, σ_MAD, η per estimate and split, CRPS, mean cross-entropy).
"""
import sys
from pathlib import Path

from galaxy_xai.io import load_params, write_json
from galaxy_xai.models.scl_training import (
    ESTIMATOR_KEYS, PREPARED, checked_dataset, estimator_settings, require_optional, train_and_infer,
)

SCL_KEYS = ESTIMATOR_KEYS + ("datasets", "e", "coeff_recon")


def scl_settings(params, source="params.yaml") -> dict:
    """The `scl` params group: the estimator settings plus the decoder's e and coeff_recon."""
    cfg = estimator_settings(params, "scl", SCL_KEYS, source)
    cfg["e"] = require_optional(params, "scl.e", int, lambda v: v >= 0, "null or an integer >= 0", source)
    cfg["coeff_recon"] = require_optional(params, "scl.coeff_recon", (int, float), lambda v: v >= 0,
                                          "null or a number >= 0", source)
    return cfg


def main(name, params_path="params.yaml", prepared=PREPARED, out_root="out/scl", metrics_dir="out/metrics"):
    params = load_params(params_path)
    cfg = scl_settings(params, params_path)
    name = checked_dataset(name, "scl", params_path)
    summary = train_and_infer(name, cfg, False, Path(out_root) / name, "scl", prepared)
    write_json(Path(metrics_dir) / f"scl_{name}.json", summary)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
