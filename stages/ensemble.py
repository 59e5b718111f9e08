"""Stage ensemble: the mean of the three models, and every model's scores (SPEC §2).

Test RMSE needs labels for the test folder: with simulated data they come from the truth table;
with real Kaggle data the test set is unlabelled and the metric is omitted, not faked.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import atomic_path, get_logger, load_params, require, write_json
from galaxy_xai.models.evaluation import auc, ensemble_mean, rmse, visible_bar_auc
from galaxy_xai.params import MORPHOLOGY_MODELS

log = get_logger("stage.ensemble")

def test_labels(truth_path, test_ids):
    """Vote fractions and bar truth for the test galaxies, from the truth table (None for real data)."""
    if truth_path is None:
        return None
    truth = pd.read_parquet(truth_path, columns=["GalaxyID", "has_bar", "bar_seen"] + [f"votes_{c}" for c in VOTE_COLUMNS])
    truth = truth.set_index("GalaxyID").reindex(test_ids)
    if truth.isna().any().any():
        raise ValueError(f"{truth_path}: some test GalaxyIDs are missing from the truth table")
    return truth.rename(columns=lambda c: c.removeprefix("votes_"))


def score(pred: pd.DataFrame, cat: pd.DataFrame, labels, train_mean) -> dict:
    val = cat[cat["split"] == "validation"].set_index("GalaxyID")
    pv = pred.set_index("GalaxyID").reindex(val.index)
    out = {"val_rmse": rmse(val[VOTE_COLUMNS], pv[VOTE_COLUMNS])}
    if labels is not None:
        pt = pred.set_index("GalaxyID").reindex(labels.index)
        out["test_rmse"] = rmse(labels[VOTE_COLUMNS], pt[VOTE_COLUMNS])
        out["test_bar_auc"] = auc(labels["has_bar"], pt["Class3.1"])
        out["test_visible_bar_auc"] = visible_bar_auc(labels["has_bar"], labels["bar_seen"], pt["Class3.1"])
    return out


def main(params_path="params.yaml", prepared="out/prepared/galaxy_zoo", pred_root="out/predictions"):
    params = load_params(params_path)
    truth_path = require(params, "data.truth", (str, type(None)), what="a path or null", source=params_path)
    cat = pd.read_parquet(Path(prepared) / "catalog.parquet")
    preds = {m: {s: pd.read_csv(Path(pred_root) / m / f"predictions_{s}.csv") for s in ("train", "test")} for m in MORPHOLOGY_MODELS}
    ens = {s: ensemble_mean([preds[m][s] for m in MORPHOLOGY_MODELS], "GalaxyID") for s in ("train", "test")}
    out_dir = Path(pred_root) / "ensemble"
    out_dir.mkdir(parents=True, exist_ok=True)
    for s, table in ens.items():
        with atomic_path(out_dir / f"predictions_{s}.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
    test_ids = cat.loc[~cat["labelled"], "GalaxyID"].to_numpy()
    labels = test_labels(truth_path, test_ids) if len(test_ids) else None
    train = cat[cat["split"] == "train"]
    train_mean = train[VOTE_COLUMNS].mean()
    metrics = {name: score(p["train"] if labels is None else pd.concat([p["train"], p["test"]]), cat, labels, train_mean)
               for name, p in {**preds, "ensemble": ens}.items()}
    if labels is not None:
        baseline = rmse(labels[VOTE_COLUMNS], np.tile(train_mean.to_numpy(), (len(labels), 1)))
        metrics["train_mean_baseline"] = {"test_rmse": baseline}
        # The ceiling the labels set: the true vote fractions scored like a model's predictions
        metrics["labels"] = {"test_bar_auc": auc(labels["has_bar"], labels["Class3.1"]),
                             "test_visible_bar_auc": visible_bar_auc(labels["has_bar"], labels["bar_seen"], labels["Class3.1"])}
        gain = 1 - metrics["ensemble"]["test_rmse"] / baseline
        metrics["ensemble"]["improvement_over_mean"] = gain
        log.info("ensemble test RMSE %.4f (mean baseline %.4f, %.0f%% better); per model %s", metrics["ensemble"]["test_rmse"], baseline,
                 100 * gain, {m: round(metrics[m]["test_rmse"], 4) for m in MORPHOLOGY_MODELS})
    write_json("out/metrics/morphology.json", metrics)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
