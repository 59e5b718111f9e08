"""Benchmark: fast bar-length measurement vs the straightforward definition of SPEC §3.

Run: .venv/bin/python bench/bar_length.py [n_maps]
Asserts identical lengths and prints both times and the speed ratio (target >= 100x).
The reference and the synthetic maps are also used by tests/test_bar_length.py.
"""
from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np
from scipy.ndimage import gaussian_filter

from galaxy_xai.xai.bar_length import measure_bar_length


def reference_measure_bar_length(heatmap, corr_threshold, len_threshold) -> float:
    """SPEC §3 written literally: rescan at every t, then compare every pair of mask pixels."""
    for t in np.arange(0.5, 1.0, 1e-4):
        rows, cols = np.nonzero(heatmap > t)
        if len(rows) < len_threshold:
            break
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # corr of < 2 points or of one row is NaN
            corr = np.corrcoef(rows, cols)[0, 1]
        if abs(corr) > corr_threshold:
            break
    rows, cols = (a.tolist() for a in np.nonzero(heatmap > t))
    if not rows:
        return math.nan
    longest = 1.0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            d = math.sqrt((rows[i] - rows[j]) ** 2 + (cols[i] - cols[j]) ** 2)
            longest = max(longest, d)
    return longest


def synthetic_heatmaps(n, size, rng, bar_fraction=0.7):
    """Float32 maps in [0, 1]: smoothed random fields, most with a bright bar at a random angle."""
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    maps = np.empty((n, size, size), dtype=np.float32)
    for k in range(n):
        field = gaussian_filter(rng.normal(size=(size, size)), sigma=rng.uniform(1.0, 4.0))
        field = (field - field.min()) / np.ptp(field)
        if rng.random() < bar_fraction:
            field = field + rng.uniform(0.5, 2.0) * _bar(rows, cols, size, rng)
        maps[k] = (field - field.min()) / np.ptp(field)
    return maps


def _bar(rows, cols, size, rng):
    """Gaussian-profile segment through a point near the centre."""
    centre = size / 2 + rng.normal(scale=size / 20, size=2)
    angle = rng.uniform(0, np.pi)
    half_length = rng.uniform(0.05, 0.3) * size
    width = rng.uniform(0.5, 2.5)
    along = (rows - centre[0]) * np.sin(angle) + (cols - centre[1]) * np.cos(angle)
    across = (rows - centre[0]) * np.cos(angle) - (cols - centre[1]) * np.sin(angle)
    beyond = np.clip(np.abs(along) - half_length, 0, None)
    return np.exp(-(across**2 + beyond**2) / (2 * width**2))


def main(n_maps=200, size=72, seed=0):
    rng = np.random.default_rng(seed)
    maps = synthetic_heatmaps(n_maps, size, rng)
    settings = [(0.5, 10), (0.7, 30), (0.9, 5), (0.3, 60)]  # (corr_threshold, len_threshold)
    cases = [(m, *settings[k % len(settings)]) for k, m in enumerate(maps)]

    start = time.perf_counter()
    fast = [measure_bar_length(m, c, n) for m, c, n in cases]
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = [reference_measure_bar_length(m, c, n) for m, c, n in cases]
    reference_s = time.perf_counter() - start

    np.testing.assert_array_equal(fast, reference)
    print(f"{n_maps} maps of {size}x{size}: identical lengths "
          f"(median {np.nanmedian(fast):.2f} px)")
    print(f"fast      {fast_s:8.3f} s  ({1e3 * fast_s / n_maps:.3f} ms/map)")
    print(f"reference {reference_s:8.3f} s  ({1e3 * reference_s / n_maps:.3f} ms/map)")
    print(f"speed ratio {reference_s / fast_s:.0f}x (target >= 100x)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
