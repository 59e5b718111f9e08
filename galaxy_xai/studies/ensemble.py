"""The ensemble's checks (issue 19): does the mean of the three backbones beat its best member, and the
training set's mean votes, on the test galaxies? Paired bootstrap CIs of the RMSE differences.

The ensemble itself (predictions, every predictor's scores) is galaxy_xai.studies.morphology.ensemble;
this module adds the checks and the headline to its metrics without changing it.
"""
from __future__ import annotations

import logging

import numpy as np

from galaxy_xai import checks, layout
from galaxy_xai.domain import BACKBONES, VOTE_COLUMNS
from galaxy_xai.studies.morphology import ensemble, read_predictions, truth_labels

log = logging.getLogger(__name__)


def rmse_difference(labels, first, second, n_bootstrap: int, seed: int) -> dict:
    """RMSE(first) − RMSE(second) over all vote columns, with a bootstrap CI resampling galaxies
    (paired: both predictors are scored on the same draw). Arrays [n, columns]."""
    def difference(y, a, b):
        return np.sqrt(np.mean((a - y) ** 2)) - np.sqrt(np.mean((b - y) ** 2))

    return checks.bootstrap_ci(difference, labels, first, second, n_bootstrap=n_bootstrap, seed=seed)


def ensemble_checks(members: dict, ensemble_pred, baseline_pred, labels, val_rmse: dict,
                    n_bootstrap: int, seed: int) -> tuple[dict, dict, dict]:
    """Checks and headline from test predictions [n, columns] aligned with `labels`. The best member is
    the one with the lowest validation RMSE (chosen without the test galaxies). Returns (comparisons,
    checks, headlines)."""
    best = min(members, key=lambda m: val_rmse[m])
    vs_best = rmse_difference(labels, ensemble_pred, members[best], n_bootstrap, seed)
    vs_mean = rmse_difference(labels, ensemble_pred, baseline_pred, n_bootstrap, seed)
    n = len(labels)
    found = {
        "ensemble_beats_best_member": checks.check(
            vs_best["high"] is not None and vs_best["high"] < 0, vs_best["high"], 0.0,
            f"upper 95 % bound of test RMSE(ensemble) − RMSE({best}, the best member on validation), paired "
            f"bootstrap over {n} test galaxies; at or above 0 averaging did not help"),
        "ensemble_beats_mean_votes": checks.check(
            vs_mean["high"] is not None and vs_mean["high"] < 0, vs_mean["high"], 0.0,
            f"upper 95 % bound of test RMSE(ensemble) − RMSE(training-set mean votes for every galaxy), paired "
            f"bootstrap over {n} test galaxies; at or above 0 the models learnt nothing beyond the average answer"),
    }
    rmse = float(np.sqrt(np.mean((ensemble_pred - labels) ** 2)))
    rmse_ci = checks.bootstrap_ci(lambda y, a: np.sqrt(np.mean((a - y) ** 2)), labels, ensemble_pred,
                                  n_bootstrap=n_bootstrap, seed=seed)
    heads = {"ensemble_rmse": checks.headline(
        "The mean of the VGG16, ResNet50V2 and Xception predictions reproduces the Galaxy Zoo vote fractions "
        "better than any one of them", "not stated as a number in the source documents (ensemble = mean of the three)",
        rmse, "test RMSE (vote fractions)", list(found), low=rmse_ci["low"], high=rmse_ci["high"])}
    comparisons = {"best_member": best, "ensemble_minus_best_member_rmse": vs_best,
                   "ensemble_minus_mean_votes_rmse": vs_mean, "n_test": n}
    return comparisons, found, heads


def ensemble_study(prepared: layout.Prepared, truth_path, n_bootstrap: int, seed: int,
                   predictions=layout.predictions) -> dict:
    """morphology.ensemble's metrics plus, with test labels (simulated data), the checks and headline."""
    metrics = ensemble(prepared, truth_path, predictions)
    cat = prepared.read_catalog()
    test_ids = cat.loc[~cat["labelled"], "GalaxyID"].to_numpy()
    labels = truth_labels(truth_path, test_ids) if len(test_ids) else None
    if labels is None:
        metrics["checks"], metrics["headlines"] = {}, {}
        return metrics
    def aligned(table):
        return table.set_index("GalaxyID").reindex(labels.index)[VOTE_COLUMNS].to_numpy(np.float64)
    members = {m: aligned(read_predictions(predictions(m))["test"]) for m in BACKBONES}
    ens = aligned(read_predictions(predictions("ensemble"))["test"])
    train_mean = cat.loc[cat["split"] == "train", VOTE_COLUMNS].mean().to_numpy(np.float64)
    y = labels[VOTE_COLUMNS].to_numpy(np.float64)
    comparisons, found, heads = ensemble_checks(members, ens, np.tile(train_mean, (len(y), 1)), y,
                                                {m: metrics[m]["val_rmse"] for m in BACKBONES}, n_bootstrap, seed)
    metrics["ensemble_checks"] = comparisons
    metrics["checks"], metrics["headlines"] = found, heads
    log.info("ensemble − best member (%s) test RMSE: %s", comparisons["best_member"],
             comparisons["ensemble_minus_best_member_rmse"])
    return metrics
