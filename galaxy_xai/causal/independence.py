"""Local independence tests over each galaxy's neighbours (SPEC §6).

Every function takes [n, k] arrays: row i holds a quantity for the k nearest training
neighbours of galaxy i. All work is vectorised over galaxies.

Nulls. Survey nulls (|v| ≥ 9000) and NaNs are dropped pairwise: a neighbour is left out of a
row when any of the quantities used together (y and x; y, x and c for conditional tests) is
null there. Left-out entries come back as NaN in per-neighbour outputs.

Weights. Optional non-negative [n, k] weights (anything that broadcasts, e.g. a [k] profile
over neighbour rank). Means, variances, the quadratic fits and the correlations are then
weighted; variances use Σ w (v - v̄)² / Σ w (no ddof: every statistic here is a ratio of
variances, where the normalisation cancels). Weights of all ones give the unweighted results.

Permuted null. Without weights: x is shuffled among the valid neighbours of each row. With
weights: each valid neighbour gets an x drawn with replacement from the row's valid x values,
with probability w_j / Σ w (weighted resampling), and the null correlation is the weighted
Pearson of y with these draws under the same weights. So x* follows x's weighted marginal and
is independent of y, which is the weighted null hypothesis. For all-ones weights this is a
bootstrap null: same distribution as the shuffle, not the same draws.

Degenerate rows give NaN: no valid neighbour; a constant y or x (spread at rounding level,
see RANK_TOLERANCE); a singular quadratic fit, i.e. fewer than three distinct regressor values
among the valid neighbours; and, for conditional tests, y or x an exact quadratic of c.
"""
from __future__ import annotations

import numpy as np

from galaxy_xai.io import is_null

# Relative spread below which a quantity is rounding noise, i.e. constant: standard deviation
# over max(|mean|, std) for data, over the data's own scale for residuals and for the x² basis
# function (where it means x takes < 3 distinct values, so the quadratic fit is singular).
RANK_TOLERANCE = 1e-9


# -------------------------------------------------------------------------- public tests

def quadratic_residual(y, x, weights=None) -> np.ndarray:
    """Residual [n, k] of the least-squares fit y ≈ a0 + a1·x + a2·x² in each row.

    NaN where y or x is null, and in whole rows whose fit is singular (see module notes).
    """
    (y, x), p, valid = _prepare([y, x], weights)
    residual, fit_ok = _quadratic_residual(y, x, p)
    return _as_output(residual, valid, fit_ok)


def predictive_efficiency(y, x, weights=None) -> np.ndarray:
    """(Var y − Var r) / Var y per row [n], r = quadratic residual of y on x: the fraction of
    the local variance of y that a smooth function of x explains (0 = none, 1 = all)."""
    (y, x), p, _ = _prepare([y, x], weights)
    return _efficiency(y, x, p)


def local_correlation(y, x, rng, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """(corr [n], corr_permuted [n]): Pearson of y and x over the neighbours, and the same
    after destroying any y–x link (shuffle, or weighted resampling; see module notes)."""
    (y, x), p, valid = _prepare([y, x], weights)
    return _correlation_and_null(y, x, p, valid, np.random.default_rng(rng), weights is None)


def conditional_correlation(y, x, c, rng, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """local_correlation of the quadratic residuals of y and of x on c: tests y ⟂ x | c."""
    (y, x, c), p, valid = _prepare([y, x, c], weights)
    y_res, x_res, fit_ok = _residuals_on(c, y, x, p)
    corr, corr_null = _correlation_and_null(y_res, x_res, p, valid,
                                            np.random.default_rng(rng), weights is None)
    return np.where(fit_ok, corr, np.nan), np.where(fit_ok, corr_null, np.nan)


def conditional_predictive_efficiency(y, x, c, weights=None) -> np.ndarray:
    """predictive_efficiency of x for y after removing what c explains of each (quadratic
    residuals on c)."""
    (y, x, c), p, _ = _prepare([y, x, c], weights)
    y_res, x_res, fit_ok = _residuals_on(c, y, x, p)
    return np.where(fit_ok, _efficiency(y_res, x_res, p), np.nan)


def summarise(corr, corr_permuted) -> dict:
    """How far the distribution of local correlations departs from its permuted null.

    KS two-sample test between the two, and the fraction of galaxies whose corr lies outside
    the null's central 95 % band [2.5th, 97.5th percentile of corr_permuted] (5 % if y ⟂ x).
    NaN galaxies are left out of each sample; counts say how many remained.
    """
    from scipy.stats import ks_2samp

    corr = _finite(corr)
    null = _finite(corr_permuted)
    out = {"n_valid": int(len(corr)), "n_valid_permuted": int(len(null)),
           "mean_corr": _mean(corr), "mean_corr_permuted": _mean(null),
           "mean_abs_corr": _mean(np.abs(corr)), "mean_abs_corr_permuted": _mean(np.abs(null)),
           "ks_statistic": float("nan"), "ks_pvalue": float("nan"),
           "null_band": [float("nan"), float("nan")], "frac_beyond_null_band": float("nan")}
    if len(corr) and len(null):
        ks = ks_2samp(corr, null)
        low, high = np.percentile(null, [2.5, 97.5])
        out.update(ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue),
                   null_band=[float(low), float(high)],
                   frac_beyond_null_band=float(np.mean((corr < low) | (corr > high))))
    return out


# ------------------------------------------------------------------- inputs and masking

def _prepare(arrays, weights):
    """Float copies with nulls set to 0, the validity mask, and the row weights p normalised
    to sum to 1 over each row's valid neighbours (0 on masked entries, so they drop out of
    every weighted sum; NaN in rows with no weight left, so their statistics are NaN)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise ValueError(f"expected [n, k] arrays of one shape, got {[a.shape for a in arrays]}")
    valid = ~np.logical_or.reduce([is_null(a) for a in arrays])
    w = np.ones(shape) if weights is None else _check_weights(weights, shape)
    w = np.where(valid, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = w / w.sum(axis=1, keepdims=True)
    return [np.where(valid, a, 0.0) for a in arrays], p, valid


def _check_weights(weights, shape) -> np.ndarray:
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), shape)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("weights must be finite and non-negative")
    return weights


def _as_output(values, valid, row_ok):
    return np.where(valid & row_ok[:, None], values, np.nan)


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _mean(values) -> float:
    return float(values.mean()) if len(values) else float("nan")


# ------------------------------------------------------------------ weighted statistics
# p: row weights normalised by _prepare, so a weighted mean is one dot product per row.

def _wmean(v, p) -> np.ndarray:
    return np.einsum("ij,ij->i", p, v)


def _wdot(a, b, p) -> np.ndarray:
    """E_p[a b] per row, without forming a·b."""
    return np.einsum("ij,ij,ij->i", p, a, b)


def _moments(v, p):
    """v centred on its weighted mean, the mean, and the weighted standard deviation."""
    mean = _wmean(v, p)
    v_c = v - mean[:, None]
    return v_c, mean, np.sqrt(_wdot(v_c, v_c, p))


def _scale(mean, spread) -> np.ndarray:
    """Magnitude against which rounding is judged: max(|mean|, std)."""
    return np.maximum(np.abs(mean), spread)


def _varies(spread, scale) -> np.ndarray:
    """Rows whose spread is more than rounding noise of `scale`."""
    return spread > RANK_TOLERANCE * scale


def _pearson(y, x, p) -> np.ndarray:
    y_c, y_mean, y_sd = _moments(y, p)
    x_c, x_mean, x_sd = _moments(x, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.clip(_wdot(y_c, x_c, p) / (y_sd * x_sd), -1.0, 1.0)  # rounding can pass ±1
    varies = _varies(y_sd, _scale(y_mean, y_sd)) & _varies(x_sd, _scale(x_mean, x_sd))
    return np.where(varies, corr, np.nan)


def _quadratic_residual(y, x, p):
    """Weighted least-squares residual of y on (1, x, x²), and which rows had a regular fit."""
    basis, fit_ok = _quadratic_basis(x, p)
    return _remove_projections(y, basis, p), fit_ok


def _quadratic_basis(x, p):
    """An orthogonal basis of (1, x, x²) under the weighted inner product E_p[a b], per row.

    Projecting onto it solves the 3×3 normal equations (Gram–Schmidt on standardised x): the
    same solution, but well conditioned even for a narrow regressor far from 0 (e.g. redshifts
    0.10–0.11), and a vanishing basis function flags exactly the singular rows.
    Returns [(function, squared norm)] for the two non-constant functions (the constant is
    handled by centring), and fit_ok.
    """
    x_c, x_mean, x_sd = _moments(x, p)
    x_varies = _varies(x_sd, _scale(x_mean, x_sd))
    # constant rows get a harmless divisor; they are flagged, not fitted
    linear = x_c / np.where(x_varies, x_sd, 1.0)[:, None]
    linear_norm = _wdot(linear, linear, p)
    square = _remove_projections(linear * linear, [(linear, linear_norm)], p)
    square_norm = _wdot(square, square, p)
    # linear has unit spread, so the scale of 'square' is 1
    fit_ok = x_varies & _varies(np.sqrt(square_norm), 1.0)
    return [(linear, linear_norm), (square, square_norm)], fit_ok


def _remove_projections(v, basis, p) -> np.ndarray:
    """v minus its weighted mean and its projections on mutually orthogonal centred functions."""
    residual = v - _wmean(v, p)[:, None]
    for function, norm in basis:
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = _wdot(residual, function, p) / norm
        residual = residual - coef[:, None] * function
    return residual


def _efficiency(y, x, p) -> np.ndarray:
    residual, fit_ok = _quadratic_residual(y, x, p)
    _, y_mean, y_sd = _moments(y, p)
    var_residual = _wdot(residual, residual, p)  # the fit has an intercept: mean 0
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = 1.0 - var_residual / y_sd ** 2
    return np.where(fit_ok & _varies(y_sd, _scale(y_mean, y_sd)), efficiency, np.nan)


def _residuals_on(c, y, x, p):
    """Quadratic residuals of y and of x on c (one basis, one mask), and the rows where the fit
    is regular and leaves more than rounding noise of both (else nothing is left to test)."""
    basis, fit_ok = _quadratic_basis(c, p)
    residuals = []
    for v in (y, x):
        _, mean, spread = _moments(v, p)
        v_res = _remove_projections(v, basis, p)
        fit_ok &= _varies(np.sqrt(_wdot(v_res, v_res, p)), _scale(mean, spread))
        residuals.append(v_res)
    return residuals[0], residuals[1], fit_ok


# ------------------------------------------------------------------------------ nulls

def _correlation_and_null(y, x, p, valid, rng, unweighted: bool):
    corr = _pearson(y, x, p)
    x_null = _shuffle_valid(x, valid, rng) if unweighted else _resample_weighted(x, p, rng)
    return corr, _pearson(y, x_null, p)


def _shuffle_valid(x, valid, rng) -> np.ndarray:
    """x with its valid entries randomly permuted within each row; invalid entries stay put.

    Sorting random keys lists each row's valid positions in random order (invalid ones after,
    keyed past 1 in place order); sorting the mask lists them all in place order. Pairing the
    two moves a random valid value into each valid slot and leaves invalid ones where they are.
    """
    keys = np.where(valid, rng.random(x.shape), 2.0 + np.arange(x.shape[1]))
    source = np.argsort(keys, axis=1)
    target = np.argsort(~valid, axis=1, kind="stable")
    shuffled = x.copy()
    np.put_along_axis(shuffled, target, np.take_along_axis(x, source, axis=1), axis=1)
    return shuffled


def _resample_weighted(x, p, rng) -> np.ndarray:
    """Each entry replaced by an x of the same row drawn with probability p_j (weights
    normalised per row).

    Inverse-CDF sampling for all rows in one searchsorted: each row's CDF (in [0, 1]) is
    shifted by 2 × row so the concatenation increases and rows cannot mix. Zero-weight entries
    add a flat CDF step, so they are never drawn.
    """
    n, k = x.shape
    # rows without weight (NaN) give NaN statistics anyway; uniform draws keep the search defined
    p = np.where(np.isfinite(p), p, 1.0 / k)
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]  # ends at exactly 1, whatever the rounding of the sum
    shift = 2.0 * np.arange(n)[:, None]
    flat = np.searchsorted((cdf + shift).ravel(), (rng.random((n, k)) + shift).ravel(),
                           side="right")
    drawn = flat.reshape(n, k) - k * np.arange(n)[:, None]
    # a draw past the row's last weighted entry (flat tail, or U ≈ 1 rounding up) belongs to it
    last_weighted = k - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
    return np.take_along_axis(x, np.minimum(drawn, last_weighted[:, None]), axis=1)
