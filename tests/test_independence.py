import numpy as np
import pytest
from scipy.stats import ks_2samp

from galaxy_xai.causal import independence as ind

N_GALAXIES, K = 1500, 100


def neighbourhoods(direct_effect: float, seed: int = 0):
    """y = f(c) + noise, x = g(c) + noise (+ direct_effect · x in y): y ⟂ x | c iff it is 0.
    Each row is one galaxy's neighbourhood with its own range of c, as in latent space."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.05, 0.3, size=(N_GALAXIES, 1))
    c = centre + rng.uniform(-0.05, 0.05, size=(N_GALAXIES, K))  # e.g. redshift
    x = 20 * c - 15 * c ** 2 + rng.normal(0, 0.1, size=c.shape)
    y = 10 * c + 8 * c ** 2 + direct_effect * x + rng.normal(0, 0.1, size=c.shape)
    return y, x, c


def test_conditional_independence_detected_when_it_holds():
    y, x, c = neighbourhoods(direct_effect=0.0)
    corr, _ = ind.local_correlation(y, x, rng=1)
    cond, cond_null = ind.conditional_correlation(y, x, c, rng=2)
    assert np.mean(corr) > 0.5  # c makes y and x look related ...
    assert abs(np.mean(cond)) < 0.01  # ... but not once c is accounted for
    assert ks_2samp(cond, cond_null).pvalue > 0.01
    summary = ind.summarise(cond, cond_null)
    assert summary["frac_beyond_null_band"] < 0.08
    efficiency = ind.conditional_predictive_efficiency(y, x, c)
    assert np.mean(efficiency) < 0.05


def test_conditional_dependence_detected_when_it_fails():
    y, x, c = neighbourhoods(direct_effect=1.0)
    cond, cond_null = ind.conditional_correlation(y, x, c, rng=2)
    assert np.mean(cond) > 0.5
    summary = ind.summarise(cond, cond_null)
    assert summary["ks_pvalue"] < 1e-10
    assert summary["frac_beyond_null_band"] > 0.9
    assert np.mean(ind.conditional_predictive_efficiency(y, x, c)) > 0.3


def test_quadratic_residual_vanishes_on_exact_quadratic():
    rng = np.random.default_rng(4)
    x = rng.uniform(9.0, 11.0, size=(50, 30))  # offset regressor: a conditioning test
    a0, a1, a2 = rng.normal(size=(3, 50, 1))
    y = a0 + a1 * x + a2 * x ** 2
    residual = ind.quadratic_residual(y, x)
    assert np.abs(residual).max() < 1e-9 * np.abs(y).max()
    np.testing.assert_allclose(ind.predictive_efficiency(y, x), 1.0, atol=1e-9)


def test_quadratic_residual_matches_polyfit():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 20, 40))
    expected = [yi - np.polyval(np.polyfit(xi, yi, 2), xi) for xi, yi in zip(x, y)]
    np.testing.assert_allclose(ind.quadratic_residual(y, x), expected, atol=1e-10)


def test_singular_rows_are_nan():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(3, 10))
    x = rng.normal(size=(3, 10))
    x[0] = 0.7  # constant
    x[1] = np.where(np.arange(10) % 2, 1.0, 2.0)  # two values: a parabola is not determined
    residual = ind.quadratic_residual(y, x)
    assert np.isnan(residual[:2]).all() and np.isfinite(residual[2]).all()
    efficiency = ind.predictive_efficiency(y, x)
    assert np.isnan(efficiency[:2]).all() and np.isfinite(efficiency[2])
    corr, _ = ind.local_correlation(y, x, rng=0)
    assert np.isnan(corr[0]) and np.isfinite(corr[1:]).all()


NULLS_PER_ROW = 7


def with_nulls(arrays, seed=7):
    """Inject 9999 / -9999 / NaN into NULLS_PER_ROW entries per row, spread over the arrays;
    also return the arrays with those entries removed."""
    rng = np.random.default_rng(seed)
    n, k = arrays[0].shape
    drop = np.argsort(rng.random((n, k)), axis=1)[:, :NULLS_PER_ROW]
    keep = np.ones((n, k), bool)
    np.put_along_axis(keep, drop, False, axis=1)
    dirty = [a.copy() for a in arrays]
    sentinels = np.array([9999.0, -9999.0, np.nan])
    for j in range(NULLS_PER_ROW):
        rows = np.arange(n)
        target = dirty[j % len(dirty)]  # a pair is dropped if either member is null
        target[rows, drop[:, j]] = sentinels[rng.integers(0, 3, size=n)]
    clean = [a[keep].reshape(n, k - NULLS_PER_ROW) for a in arrays]
    return dirty, clean, keep


def test_nulls_are_dropped_pairwise():
    y, x, c = neighbourhoods(direct_effect=0.5, seed=8)
    y, x, c = y[:200], x[:200], c[:200]

    (y_d, x_d), (y_c, x_c), keep = with_nulls([y, x])
    residual = ind.quadratic_residual(y_d, x_d)
    assert np.isnan(residual[~keep]).all()
    np.testing.assert_allclose(residual[keep].reshape(y_c.shape), ind.quadratic_residual(y_c, x_c))
    np.testing.assert_allclose(ind.predictive_efficiency(y_d, x_d),
                               ind.predictive_efficiency(y_c, x_c))
    np.testing.assert_allclose(ind.local_correlation(y_d, x_d, rng=0)[0],
                               ind.local_correlation(y_c, x_c, rng=0)[0])
    null = ind.local_correlation(y_d, x_d, rng=0)[1]
    assert np.isfinite(null).all() and (np.abs(null) < 0.5).all()  # no 9999 leaked in

    (y_d, x_d, c_d), (y_c, x_c, c_c), _ = with_nulls([y, x, c])
    np.testing.assert_allclose(ind.conditional_correlation(y_d, x_d, c_d, rng=0)[0],
                               ind.conditional_correlation(y_c, x_c, c_c, rng=0)[0])
    np.testing.assert_allclose(ind.conditional_predictive_efficiency(y_d, x_d, c_d),
                               ind.conditional_predictive_efficiency(y_c, x_c, c_c))


def test_shuffle_moves_only_valid_values_within_their_row():
    rng = np.random.default_rng(9)
    x = np.arange(60.0).reshape(6, 10)
    valid = rng.random(x.shape) > 0.3
    shuffled = ind._shuffle_valid(x, valid, rng)
    np.testing.assert_array_equal(shuffled[~valid], x[~valid])
    for row in range(6):
        np.testing.assert_array_equal(np.sort(shuffled[row, valid[row]]), x[row, valid[row]])
    assert not np.array_equal(shuffled, x)


def test_weighted_resampling_draws_in_proportion_to_weight():
    rng = np.random.default_rng(10)
    n, k = 400, 5
    x = np.tile(np.arange(k, dtype=float), (n, 1))
    w = np.tile([0.0, 1.0, 3.0, 0.0, 4.0], (n, 1))
    draws = ind._resample_weighted(x, w, rng)
    frequency = np.bincount(draws.astype(int).ravel(), minlength=k) / draws.size
    np.testing.assert_allclose(frequency, w[0] / w[0].sum(), atol=0.02)
    assert frequency[0] == 0 and frequency[3] == 0  # zero weight: never drawn


def test_unit_weights_give_unweighted_results():
    y, x, c = neighbourhoods(direct_effect=0.3, seed=11)
    ones = np.ones_like(y)
    np.testing.assert_allclose(ind.quadratic_residual(y, x, ones), ind.quadratic_residual(y, x))
    np.testing.assert_allclose(ind.predictive_efficiency(y, x, ones),
                               ind.predictive_efficiency(y, x))
    np.testing.assert_allclose(ind.local_correlation(y, x, 0, ones)[0],
                               ind.local_correlation(y, x, 0)[0])
    np.testing.assert_allclose(ind.conditional_correlation(y, x, c, 0, ones)[0],
                               ind.conditional_correlation(y, x, c, 0)[0])
    np.testing.assert_allclose(ind.conditional_predictive_efficiency(y, x, c, ones),
                               ind.conditional_predictive_efficiency(y, x, c))
    # the null differs in kind (bootstrap vs shuffle) but not in distribution
    weighted_null = ind.conditional_correlation(y, x, c, 1, ones)[1]
    shuffled_null = ind.conditional_correlation(y, x, c, 1)[1]
    assert ks_2samp(weighted_null, shuffled_null).pvalue > 0.01


def test_integer_weights_equal_repeated_neighbours():
    y, x, c = neighbourhoods(direct_effect=0.3, seed=12)
    y, x, c = y[:100, :20], x[:100, :20], c[:100, :20]
    counts = np.random.default_rng(13).integers(1, 4, size=20)
    repeated = [np.repeat(a, counts, axis=1) for a in (y, x, c)]
    np.testing.assert_allclose(ind.predictive_efficiency(y, x, counts),
                               ind.predictive_efficiency(*repeated[:2]))
    np.testing.assert_allclose(ind.local_correlation(y, x, 0, counts)[0],
                               ind.local_correlation(*repeated[:2], 0)[0])
    np.testing.assert_allclose(ind.conditional_predictive_efficiency(y, x, c, counts),
                               ind.conditional_predictive_efficiency(*repeated))


def test_rejects_negative_weights():
    y, x, _ = neighbourhoods(direct_effect=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        ind.predictive_efficiency(y, x, -np.ones_like(y))


def test_summarise_counts_and_band():
    corr = np.array([0.9, -0.9, 0.0, np.nan])
    null = np.linspace(-0.5, 0.5, 101)
    summary = ind.summarise(corr, null)
    assert summary["n_valid"] == 3 and summary["n_valid_permuted"] == 101
    np.testing.assert_allclose(summary["null_band"], [-0.475, 0.475])
    assert summary["frac_beyond_null_band"] == pytest.approx(2 / 3)
    assert summary["mean_corr"] == pytest.approx(0.0)
