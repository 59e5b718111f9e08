"""Per-galaxy decomposition of the information two inputs carry about y (SPEC §7).

Each MI estimator j gives a per-galaxy cross-entropy CE_j = −log p_j(bin of true y). With the
prior surprise h = −log P(bin of y), P the histogram of y over the galaxies given, the
pointwise information of input j is MI_j = h − CE_j (nats). The two-input split follows the
minimum-redundancy rule: R = min(MI_1, MI_2), U_j = MI_j − R, S = MI_12 − (R + U_1 + U_2),
so R + U_1 + U_2 + S = MI_12 for every galaxy by construction.
"""
from __future__ import annotations

import numpy as np

from galaxy_xai.info.binning import bin_edges, to_bin
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
