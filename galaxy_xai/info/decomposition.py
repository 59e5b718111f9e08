"""Per-galaxy decomposition of the information two inputs carry about y (SPEC §7).

Each MI estimator j gives a per-galaxy cross-entropy CE_j = −log p_j(bin of true y). With the
prior surprise h = −log P(bin of y), P the histogram of y over the galaxies given, the
pointwise information of input j is MI_j = h − CE_j (nats). The two-input split follows the
minimum-redundancy rule: R = min(MI_1, MI_2), U_j = MI_j − R, S = MI_12 − (R + U_1 + U_2),
so R + U_1 + U_2 + S = MI_12 for every galaxy by construction.
"""
from __future__ import annotations

import numpy as np

from galaxy_xai import checks
from galaxy_xai.info.binning import bin_edges, log_prior, to_bin
from galaxy_xai.io import is_null

COMPONENTS = ("mi1", "mi2", "mi12", "redundant", "unique1", "unique2", "synergy")


def prior_surprise(y, bins: int, y_min: float, y_max: float) -> np.ndarray:
    """−log P(bin of y) per galaxy (nats), P = histogram of y over all galaxies given, binned as
    the SCL labels are (`galaxy_xai.info.binning.to_bin`: outside the range, the edge bins).

    Null y (|y| ≥ 9000 or NaN) are left out of the histogram and get NaN.
    """
    y = np.asarray(y, dtype=np.float64)
    edges = bin_edges(bins, y_min, y_max)
    known = ~is_null(y)
    if not known.any():
        return np.full(y.shape, np.nan)
    index = to_bin(np.where(known, y, y_min), edges)
    probability = np.bincount(index[known], minlength=bins) / known.sum()
    return np.where(known, -np.log(probability[index]), np.nan)


def decompose(y, ce1, ce2, ce12, bins: int, y_min: float, y_max: float) -> dict:
    """Per-galaxy information components (nats) from the three estimators' cross-entropies.

    Returns arrays keyed 'prior_surprise', 'mi1', 'mi2', 'mi12', 'redundant', 'unique1',
    'unique2', 'synergy'. A galaxy with a null y or cross-entropy gets NaN everywhere.
    """
    ce1, ce2, ce12 = (_cross_entropy(ce, np.shape(y)) for ce in (ce1, ce2, ce12))
    h = prior_surprise(y, bins, y_min, y_max)
    mi1, mi2, mi12 = h - ce1, h - ce2, h - ce12
    redundant = np.minimum(mi1, mi2)
    unique1, unique2 = mi1 - redundant, mi2 - redundant
    return {"prior_surprise": h, "mi1": mi1, "mi2": mi2, "mi12": mi12,
            "redundant": redundant, "unique1": unique1, "unique2": unique2,
            "synergy": mi12 - (redundant + unique1 + unique2)}


def summarise_components(components: dict, split) -> dict:
    """Mean of every component per split label (e.g. 'train', 'validation', 'test'), plus
    'n' = galaxies with finite components. Keys are the labels as strings, for JSON."""
    split = np.asarray(split)
    summary = {}
    for label in np.unique(split):
        members = split == label
        finite = np.logical_and.reduce([np.isfinite(components[c][members]) for c in COMPONENTS])
        summary[str(label)] = {"n": int(finite.sum())} | {
            c: float(components[c][members][finite].mean()) if finite.any() else float("nan")
            for c in COMPONENTS}
    return summary


def _cross_entropy(ce, shape) -> np.ndarray:
    ce = np.asarray(ce, dtype=np.float64)
    if ce.shape != shape:
        raise ValueError(f"cross-entropies must match y's shape {shape}, got {ce.shape}")
    return np.where(is_null(ce), np.nan, ce)


# ------------------------------------------------------------------------------ checks (issue 19)

def training_prior_surprise(y, train, bins: int, y_min: float, y_max: float) -> np.ndarray:
    """−log P_train(bin of y) per galaxy: P_train = the training galaxies' histogram of y, floored
    as an estimator's starting prior (`binning.log_prior`). What an estimator that learnt nothing
    from its inputs scores; null y get NaN."""
    y = np.asarray(y, dtype=np.float64)
    known = ~is_null(y)
    fit = known & np.asarray(train, dtype=bool)
    if not fit.any():
        return np.full(y.shape, np.nan)
    edges = bin_edges(bins, y_min, y_max)
    logp = log_prior(y[fit], edges)
    return np.where(known, -logp[to_bin(np.where(known, y, y_min), edges)], np.nan)


def convergence(y, split, ce, bins: int, y_min: float, y_max: float, *, n_bootstrap: int, seed: int,
                on: str = "test") -> tuple[dict, dict]:
    """Did an estimator learn anything? Its per-galaxy cross-entropy on the `on` galaxies against
    the training set's binned prior evaluated on the same galaxies (`training_prior_surprise`).

    The margin is the sampling error: the check passes when the 95 % bootstrap CI of the mean
    per-galaxy gain (prior surprise − cross-entropy, nats) lies above 0. Returns (the check,
    details: mean cross-entropy, mean prior surprise, the gain's CI, n).
    """
    split = np.asarray(split)
    ce = np.where(is_null(np.asarray(ce, dtype=np.float64)), np.nan, np.asarray(ce, dtype=np.float64))
    h = training_prior_surprise(y, split == "train", bins, y_min, y_max)
    rows = (split == on) & np.isfinite(h) & np.isfinite(ce)
    gain = h[rows] - ce[rows]
    ci = checks.bootstrap_ci(np.mean, gain, n_bootstrap=n_bootstrap, seed=seed)
    low = ci["low"]
    check = checks.check(low is not None and low > 0, ci["estimate"], 0.0,
                         f"mean {on} cross-entropy below the training prior's (nats gained, n {int(rows.sum())}); "
                         f"passes when the 95 % bootstrap CI of the gain is above 0"
                         + ("" if rows.any() else f"; no {on} galaxies"), kind="validity")
    details = {"split": on, "n": int(rows.sum()),
               "cross_entropy": float(ce[rows].mean()) if rows.any() else None,
               "prior_cross_entropy": float(h[rows].mean()) if rows.any() else None, "gain": ci}
    return check, details


def union_not_below(ce_input, ce_union, split, name: str, union: str, *, n_bootstrap: int, seed: int,
                    tolerance: float = 0.0, on: str = "test") -> tuple[dict, dict]:
    """MI(union) ≥ MI(input), as true MI must be: the per-galaxy MI difference is
    ce_input − ce_union (the prior cancels). With the minimum-redundancy rule a union below an input
    is exactly a negative synergy, which true MI cannot give, so the check fails when the mean
    difference is below −`tolerance` nats or its 95 % bootstrap CI lies wholly below 0."""
    split = np.asarray(split)
    ce_input, ce_union = (np.where(is_null(np.asarray(c, dtype=np.float64)), np.nan, np.asarray(c, dtype=np.float64))
                          for c in (ce_input, ce_union))
    rows = (split == on) & np.isfinite(ce_input) & np.isfinite(ce_union)
    ci = checks.bootstrap_ci(np.mean, ce_input[rows] - ce_union[rows], n_bootstrap=n_bootstrap, seed=seed)
    est, high = ci["estimate"], ci["high"]
    check = checks.check(est is not None and est >= -tolerance and high is not None and high >= 0, est, -tolerance,
                         f"MI({union}) − MI({name}) on the {on} galaxies (nats, n {int(rows.sum())}); true MI of a "
                         f"union is never below an input's: fails below −{tolerance:g} nats or when the 95 % "
                         f"bootstrap CI is wholly below 0", kind="validity")
    return check, ci
