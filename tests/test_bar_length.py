import math

import numpy as np
import pytest

from bench.bar_length import reference_measure_bar_length, synthetic_heatmaps
from galaxy_xai.xai.bar_length import (
    CONSTANT_HEATMAP, EMPTY_MASK, NONFINITE_HEATMAP, OK, THRESHOLD_GRID, bar_length_px, bar_mask,
    bar_threshold, measure_bar_length, measure_bar_lengths, to_catalogue_units,
    to_original_pixels)


def background(size=48, level=0.4, width=10.0):
    """A faint Gaussian blob that never rises above the sweep's 0.5 start."""
    rows, cols = np.mgrid[:size, :size]
    r2 = (rows - size / 2) ** 2 + (cols - size / 2) ** 2
    return (level * np.exp(-r2 / (2 * width**2))).astype(np.float32)


def test_horizontal_bar_never_stops_and_measures_its_length():
    # one row: corr undefined (NaN) -> no stop by corr; the sweep runs to the last grid value
    heatmap = background()
    heatmap[20, 5:36] = 1.0
    assert bar_threshold(heatmap, 0.5, 10) == THRESHOLD_GRID[-1]
    assert measure_bar_length(heatmap, 0.5, 10) == 30.0


def test_diagonal_bar_stops_by_correlation_at_the_first_threshold():
    heatmap = background()
    idx = np.arange(10, 31)
    heatmap[idx, idx] = np.linspace(0.6, 1.0, idx.size)
    assert bar_threshold(heatmap, 0.9, 5) == THRESHOLD_GRID[0]
    assert bar_mask(heatmap, 0.9, 5).sum() == idx.size
    assert measure_bar_length(heatmap, 0.9, 5) == pytest.approx(20 * math.sqrt(2))


def test_too_few_pixels_stop_the_sweep():
    # a bright blob of 3x3 = 9 pixels inside a dimmer 5x5 square: len_threshold 10 stops at the
    # first t above the square's value, leaving the 9 blob pixels (diagonal 2 * sqrt 2)
    heatmap = background()
    heatmap[10:15, 10:15] = 0.7
    heatmap[11:14, 11:14] = 0.95
    t = bar_threshold(heatmap, 0.99, 10)
    assert abs(t - 0.7) < 1e-4
    assert bar_mask(heatmap, 0.99, 10).sum() == 9
    assert measure_bar_length(heatmap, 0.99, 10) == pytest.approx(2 * math.sqrt(2))


def test_single_pixel_has_length_one():
    mask = np.zeros((8, 8), bool)
    mask[3, 4] = True
    assert bar_length_px(mask) == 1.0


def test_length_of_collinear_and_scattered_masks():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 7] = True  # vertical segment: hull degenerate
    assert bar_length_px(mask) == 9.0
    mask[15, 0] = mask[0, 19] = True
    assert bar_length_px(mask) == pytest.approx(math.hypot(15, 19))


def test_constant_empty_and_nonfinite_maps_are_flagged_not_zero():
    constant = np.zeros((16, 16), np.float32)
    dim = np.full((16, 16), 0.3, np.float32)
    dim[0, 0] = 0.4  # not constant, but nothing above 0.5: empty mask
    nonfinite = background(16)
    nonfinite[3, 3] = np.nan
    good = background(16)
    good[4, 2:9] = 1.0
    lengths, flags = measure_bar_lengths(np.stack([constant, dim, nonfinite, good]), 0.5, 3)
    assert list(flags) == [CONSTANT_HEATMAP, EMPTY_MASK, NONFINITE_HEATMAP, OK]
    assert np.isnan(lengths[:3]).all() and lengths[3] == 6.0
    assert np.isnan(measure_bar_length(constant, 0.5, 3))
    assert np.isnan(bar_length_px(np.zeros((4, 4), bool)))


@pytest.mark.parametrize("corr_threshold, len_threshold", [(0.5, 10), (0.8, 3), (0.3, 40)])
def test_fast_equals_reference_on_random_maps(corr_threshold, len_threshold):
    maps = synthetic_heatmaps(8, 32, np.random.default_rng(len_threshold))
    # coarse quantisation adds many equal values (ties at the thresholds)
    maps[::2] = np.round(maps[::2] * 64) / 64
    fast, flags = measure_bar_lengths(maps, corr_threshold, len_threshold)
    reference = [reference_measure_bar_length(m, corr_threshold, len_threshold) for m in maps]
    assert set(flags) == {OK}
    np.testing.assert_array_equal(fast, reference)


def test_values_equal_to_grid_points_follow_strict_greater_than():
    # float64 maps made of grid values: a pixel equal to t is not above t
    rng = np.random.default_rng(5)
    maps = rng.choice(THRESHOLD_GRID[::50], size=(3, 16, 16))
    maps[:, 0, 0] = 0.0  # keep them non-constant with a value below the sweep
    fast, _ = measure_bar_lengths(maps, 0.2, 4)
    np.testing.assert_array_equal(fast, [reference_measure_bar_length(m, 0.2, 4) for m in maps])
    # 4 bright pixels plus 3 at exactly grid[1000]: at t = grid[1000] only 4 < 5 are above t
    heatmap = np.zeros((8, 8))
    heatmap[2:4, 2:4] = 1.0
    heatmap[6, [1, 3, 5]] = THRESHOLD_GRID[1000]
    assert bar_threshold(heatmap, 1.0, 5) == THRESHOLD_GRID[1000]


# pixel sets whose |corr| equals the threshold exactly; float rounding of the prefix-sum formula
# and of np.corrcoef land on opposite sides of '>' for them, so these fail without the re-check
EXACT_TIES = [
    (0.5, [1, 3, 6], [0, 5, 3]),
    (0.5, [3, 3, 5], [0, 3, 0]),
    (0.5, [4, 6, 8], [2, 0, 4]),
    (0.2, [6, 7, 7, 8], [2, 1, 9, 0]),
]


@pytest.mark.parametrize("corr_threshold, rows, cols", EXACT_TIES)
def test_exact_correlation_ties_are_settled_like_the_reference(corr_threshold, rows, cols):
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[rows, cols] = 0.8
    heatmap[rows[0], cols[0]] = 0.9  # above 0.8 one pixel remains: count 1 < 2 stops the sweep
    expected = reference_measure_bar_length(heatmap, corr_threshold, 2)
    assert measure_bar_length(heatmap, corr_threshold, 2) == expected


def test_unit_conversions():
    assert to_original_pixels(36.0, original_width=424, map_width=72) == pytest.approx(212.0)
    np.testing.assert_allclose(to_catalogue_units([2.0, 3.0], [1.5, 10.0]), [3.0, 30.0])
