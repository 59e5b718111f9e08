"""The one binning of the target (log M*) shared by the SCL labels and the MI prior (SPEC §5, §7).

The MI decomposition subtracts each estimator's cross-entropy −log p(bin of y) from the prior
surprise −log P(bin of y): both must put every y in the same bin, so both use `to_bin`.
Kept free of TensorFlow so that the decomposition stage stays light.
"""
from __future__ import annotations

import numpy as np

from galaxy_xai.io import is_null


def bin_edges(bins: int, y_min: float = 6.0, y_max: float = 12.5) -> np.ndarray:
    """`bins` equal bins on [y_min, y_max]: bins + 1 edges."""
    if bins < 1 or not y_max > y_min:
        raise ValueError(f"need bins >= 1 and y_max > y_min, got {bins}, [{y_min}, {y_max}]")
    return np.linspace(y_min, y_max, bins + 1)


def bin_centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])


def to_bin(y, edges: np.ndarray) -> np.ndarray:
    """Bin index of each y; values outside [y_min, y_max] go to the first / last bin.

    A null y (|y| >= 9000 or NaN) is an error, not an extreme value: drop such galaxies first.
    """
    y = np.asarray(y, dtype=np.float64)
    if is_null(y).any():
        raise ValueError(f"{int(is_null(y).sum())} null target values; drop them before binning")
    index = np.floor((y - edges[0]) / (edges[1] - edges[0]))
    return np.clip(index, 0, len(edges) - 2).astype(np.int64)


def log_prior(y, edges: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """Log of the histogram of y over the bins, Gaussian-smoothed by `smoothing` (units of y) and
    floored at 1e-3 / bins so that no bin is impossible (an estimator starts here; the
    convergence check holds every estimator against it)."""
    bins = len(edges) - 1
    counts = np.bincount(to_bin(y, edges), minlength=bins).astype(np.float64)
    if smoothing > 0:
        from scipy.ndimage import gaussian_filter1d

        counts = gaussian_filter1d(counts, smoothing / (edges[1] - edges[0]), mode="constant")
    prior = counts / counts.sum() + 1e-3 / bins
    return np.log(prior / prior.sum())
