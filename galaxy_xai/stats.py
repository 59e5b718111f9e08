"""The scores every study shares: RMSE, Pearson r, ROC AUC. One definition each."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def rmse(y_true, y_pred) -> float:
    """Root-mean-square error over every entry (all outputs together: the papers' figure)."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2)))


def rmse_per_output(y_true, y_pred) -> list[float]:
    """RMSE of each output column of [n, outputs] arrays."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return np.sqrt(np.mean(err.reshape(len(err), -1) ** 2, axis=0)).tolist()


def pearson_r(a, b) -> float | None:
    """Pearson r over the pairs where both are finite; None where undefined (fewer than 3 pairs
    or a constant side), never a silent 0 or NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    return float(pearson_rows(a[ok][None], b[ok][None])[0])


def pearson_rows(a, b) -> np.ndarray:
    """Pearson r of every row pair of two [m, n] arrays (NaN for a constant row)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=-1) / np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))


def pearson_columns(x, values) -> np.ndarray:
    """Pearson r of each column of x [n, f] with `values` [n] (NaN for a constant column)."""
    return pearson_rows(np.asarray(x, dtype=np.float64).T, np.broadcast_to(np.asarray(values, dtype=np.float64),
                                                                          np.shape(x)[::-1]))


def auc(labels, scores) -> float | None:
    """ROC AUC, or None when only one class is present (then it is undefined, not 0.5)."""
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))
