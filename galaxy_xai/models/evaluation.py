"""Scores shared by the model stages: RMSE, ROC AUC, and the ensemble of several predictors."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def rmse(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def ensemble_mean(predictions: list[pd.DataFrame], key: str) -> pd.DataFrame:
    """Mean of several models' prediction tables, aligned on the id column `key`."""
    first = predictions[0].set_index(key)
    for other in predictions[1:]:
        if not other.set_index(key).index.equals(first.index):
            raise ValueError(f"prediction tables do not list the same {key}s in the same order")
    mean = sum(p.set_index(key)[first.columns].to_numpy() for p in predictions) / len(predictions)
    return pd.DataFrame(mean, index=first.index, columns=first.columns).reset_index()


def auc(labels, scores) -> float | None:
    """ROC AUC, or None when only one class is present (then it is undefined, not 0.5)."""
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))


def visible_bar_auc(has_bar, bar_seen, scores) -> float | None:
    """ROC AUC of barred vs unbarred galaxies without the bars too edge-on to be seen.

    A bar that is not seen (the truth table's `bar_seen`: its disk too inclined) is foreshortened
    away; no volunteer (and no image model) can see it, so it sits among the unbarred on every
    image-based score. This AUC asks what an image can answer: visible bars against no bar.
    """
    has_bar, bar_seen = np.asarray(has_bar, bool), np.asarray(bar_seen, bool)
    keep = ~has_bar | bar_seen
    return auc(has_bar[keep], np.asarray(scores)[keep])
