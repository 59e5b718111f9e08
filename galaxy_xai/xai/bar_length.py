"""Bar length measured on a normalised SmoothGrad heatmap (SPEC §3).

Mask: sweep t upwards over THRESHOLD_GRID and stop at the first t where the pixels brighter than
t are too few (count < len_threshold) or too linear (|Pearson corr(row, col)| > corr_threshold);
if none stops, t is the last grid value. Mask = map > t.
Length: the largest Euclidean distance between two mask pixels, at least 1, in map pixels.

Degenerate cases, chosen to match the straightforward definition (np.nonzero + np.corrcoef):
- corr is undefined (NaN) when fewer than two pixels are above t or when they all share a row or
  a column; NaN is not > corr_threshold, so such a t never stops the sweep by correlation;
- a map that is not finite, is constant (e.g. the all-zero map of a zero gradient) or leaves an
  empty mask has no bar: `measure_bar_length` returns NaN and `measure_bar_lengths` names the
  reason in its flags (never a silent 0 or 1).

Speed: the sets {map > t} shrink as t rises, so one sort of the pixel values and prefix sums of
the coordinate moments give the count and the correlation at every grid t at once; the longest
distance is searched only among the leftmost and rightmost mask pixel of each row (every convex
hull vertex is one of them).

Catalogue convention (kept from the paper): both the catalogue and the measured lengths are
multiplied by PETROR90_R, i.e. hoyle = length_scaled x PETROR90_R and
measured = length in original-image pixels x PETROR90_R.
"""
from __future__ import annotations

import numpy as np

# Thresholds swept by the mask search, exactly as SPEC §3 writes them (float64, in order).
THRESHOLD_GRID = np.arange(0.5, 1.0, 1e-4)
THRESHOLD_GRID.flags.writeable = False

# |corr| this close to corr_threshold is re-checked with np.corrcoef on the pixels themselves,
# so that float rounding of the prefix-sum formula can never flip a '>' decision.
CORR_TIE_TOLERANCE = 1e-9

OK = "ok"
NONFINITE_HEATMAP = "nonfinite_heatmap"
CONSTANT_HEATMAP = "constant_heatmap"
EMPTY_MASK = "empty_mask"


def bar_threshold(heatmap, corr_threshold, len_threshold, grid=THRESHOLD_GRID) -> float:
    """The grid value t at which the sweep stops (the last grid value if it never stops).

    heatmap: finite [H, W]. t is a np.float64: compare float32 maps against it in float64.
    """
    values = np.asarray(heatmap, dtype=np.float64)  # exact: compare like `map > t` with t float64
    counts, corr = _sweep_statistics(values, grid)
    stops = (counts < len_threshold) | (np.abs(corr) > corr_threshold)
    ties = np.abs(np.abs(corr) - corr_threshold) <= CORR_TIE_TOLERANCE
    for i in np.flatnonzero(stops | ties):
        settle_by_pixels = ties[i] and counts[i] >= len_threshold
        if not settle_by_pixels or abs(_pixel_corr(values > grid[i])) > corr_threshold:
            return grid[i]
    return grid[-1]


def _sweep_statistics(values: np.ndarray, grid: np.ndarray):
    """Pixel count and Pearson corr(row, col) of {values > t} for every t in grid."""
    ascending = np.argsort(values, axis=None)
    counts = values.size - np.searchsorted(values.ravel()[ascending], grid, side="right")
    order = ascending[::-1]  # brightest first: {values > t} is a prefix of this order
    rows, cols = np.divmod(order, values.shape[1])
    moments = np.stack([rows, cols, rows * rows, cols * cols, rows * cols])
    prefix = np.concatenate([np.zeros((5, 1), np.int64), np.cumsum(moments, axis=1)], axis=1)
    s_r, s_c, s_rr, s_cc, s_rc = prefix[:, counts]
    # integer moments are exact; n * cov and n * var avoid dividing before the ratio
    cov = counts * s_rc - s_r * s_c
    var_r = counts * s_rr - s_r * s_r
    var_c = counts * s_cc - s_c * s_c
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / (np.sqrt(var_r.astype(float)) * np.sqrt(var_c.astype(float)))
    corr[(var_r == 0) | (var_c == 0)] = np.nan  # one row or one column: corr undefined
    return counts, corr


def _pixel_corr(mask: np.ndarray) -> float:
    """Pearson corr(row, col) of the mask pixels, NaN when undefined (as np.corrcoef gives)."""
    rows, cols = np.nonzero(mask)
    if rows.size < 2 or np.ptp(rows) == 0 or np.ptp(cols) == 0:
        return np.nan
    return np.corrcoef(rows, cols)[0, 1]


def bar_mask(heatmap, corr_threshold, len_threshold, grid=THRESHOLD_GRID) -> np.ndarray:
    """Boolean mask of the bar: map > t at the stopping threshold t."""
    t = bar_threshold(heatmap, corr_threshold, len_threshold, grid)
    return np.asarray(heatmap, dtype=np.float64) > t


def bar_length_px(mask) -> float:
    """Largest distance between two mask pixels, at least 1; NaN for an empty mask."""
    mask = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.nan
    # hull vertices are row extremes, so the farthest pair is among them
    left = mask[rows].argmax(axis=1)
    right = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    r = np.concatenate([rows, rows])
    c = np.concatenate([left, right])
    squared = (r[:, None] - r[None, :]) ** 2 + (c[:, None] - c[None, :]) ** 2
    return max(float(np.sqrt(squared.max())), 1.0)


def measure_bar_length(heatmap, corr_threshold, len_threshold, grid=THRESHOLD_GRID) -> float:
    """Bar length in map pixels; NaN when the map has no measurable bar (see module notes)."""
    return _measure(heatmap, corr_threshold, len_threshold, grid)[0]


def measure_bar_lengths(heatmaps, corr_threshold, len_threshold, grid=THRESHOLD_GRID):
    """Lengths [n] (map pixels, NaN when flagged) and flags [n] for heatmaps [n, H, W].

    Flags are OK or the reason for a NaN: NONFINITE_HEATMAP, CONSTANT_HEATMAP, EMPTY_MASK.
    """
    results = [_measure(h, corr_threshold, len_threshold, grid) for h in heatmaps]
    lengths = np.array([length for length, _ in results], dtype=np.float64)
    flags = np.array([flag for _, flag in results], dtype=str)
    return lengths, flags


def _measure(heatmap, corr_threshold, len_threshold, grid):
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if not np.isfinite(heatmap).all():
        return np.nan, NONFINITE_HEATMAP
    if np.ptp(heatmap) == 0:
        return np.nan, CONSTANT_HEATMAP
    length = bar_length_px(bar_mask(heatmap, corr_threshold, len_threshold, grid))
    return (np.nan, EMPTY_MASK) if np.isnan(length) else (length, OK)


def to_original_pixels(length_map_px, original_width, map_width):
    """Map pixels -> original-image pixels, scaled by original width / map width."""
    return np.asarray(length_map_px, dtype=np.float64) * (original_width / map_width)


def to_catalogue_units(length_px, petro_r90):
    """length x PETROR90_R, the paper's convention for both sides of the comparison.

    Catalogue: hoyle = length_scaled x PETROR90_R; measured: length in original-image pixels
    x PETROR90_R. Apply this same function to both so they stay comparable.
    """
    return np.asarray(length_px, dtype=np.float64) * np.asarray(petro_r90, dtype=np.float64)
