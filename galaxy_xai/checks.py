"""The checks that could refute a study's headline, in one shape for every metrics file.

Each study's metrics JSON carries a top-level `"checks"` object, `{name: check(...)}`; the report
stage (`galaxy_xai.studies.report`) reads them and names the failed ones beside the verdict.
A check whose value is undefined (too few galaxies, a constant input) did not pass: `value` is
null and `meaning` says why, never a silent NaN.
"""
from __future__ import annotations

import math

import numpy as np


KINDS = ("claim", "validity")


def check(passed: bool, value, threshold, meaning: str, kind: str = "claim") -> dict:
    """One check: did it pass, the measured value, the threshold it was held to, one sentence.

    `kind` is "claim" when the check tests the headline itself (a failure: not reproduced) or
    "validity" when it tests whether the number can be read at all (an estimator converged, a
    saliency map depends on the weights; a failure: inconclusive).
    """
    if kind not in KINDS:
        raise ValueError(f"check kind must be one of {KINDS}, got {kind!r}")
    value = _finite_or_none(value)
    return {"passed": bool(passed) and value is not None, "value": value,
            "threshold": _finite_or_none(threshold), "meaning": meaning, "kind": kind}


def at_least(value, threshold, meaning: str, kind: str = "claim") -> dict:
    """Passed when `value >= threshold` (undefined values fail)."""
    v = _finite_or_none(value)
    return check(v is not None and v >= threshold, v, threshold, meaning, kind)


def at_most(value, threshold, meaning: str, kind: str = "claim") -> dict:
    """Passed when `value <= threshold` (undefined values fail)."""
    v = _finite_or_none(value)
    return check(v is not None and v <= threshold, v, threshold, meaning, kind)


def headline(claim: str, paper: str, value, unit: str, checks: list[str], low=None, high=None) -> dict:
    """A study's headline beside its source paper's: `claim` says what the paper found, `paper`
    its number as printed there (text), `value` [low, high] this run's, `checks` the names of the
    checks (in the same metrics file) that decide the verdict."""
    return {"claim": claim, "paper": paper, "value": _finite_or_none(value), "low": _finite_or_none(low),
            "high": _finite_or_none(high), "unit": unit, "checks": list(checks)}


def verdict(head: dict, checks: dict) -> tuple[str, list[str]]:
    """"inconclusive" if a validity check of the headline failed (or is missing), else "not
    reproduced" if a claim check failed, else "reproduced"; with the names of the failed checks."""
    missing = [n for n in head["checks"] if n not in checks]
    bad_validity = missing + [n for n in head["checks"] if n in checks and not checks[n]["passed"]
                              and checks[n].get("kind") == "validity"]
    if bad_validity or not head["checks"]:
        return "inconclusive", bad_validity
    bad_claim = [n for n in head["checks"] if not checks[n]["passed"]]
    return ("not reproduced", bad_claim) if bad_claim else ("reproduced", [])


def failed(checks: dict) -> list[str]:
    """Names of the checks that did not pass, in order."""
    return [name for name, c in checks.items() if not c["passed"]]


def bootstrap_ci(statistic, *arrays, n_bootstrap: int, seed: int, level: float = 0.95) -> dict:
    """`statistic(*arrays)` with a percentile bootstrap CI, resampling rows of all arrays together
    (paired). Draws where the statistic is undefined (None or NaN) are dropped and counted.

    Returns {"estimate", "low", "high", "n", "n_bootstrap", "undefined_draws"}; low/high are None
    when fewer than half of the draws are defined.
    """
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("bootstrap_ci: arrays differ in length")
    estimate = _finite_or_none(statistic(*arrays)) if n else None
    rows = np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n)) if n else np.empty((0, 0), int)
    draws = [_finite_or_none(statistic(*(a[r] for a in arrays))) for r in rows]
    draws = np.array([d for d in draws if d is not None], dtype=float)
    alpha = (1 - level) / 2
    defined = len(draws) >= max(1, n_bootstrap // 2)
    low, high = (np.quantile(draws, [alpha, 1 - alpha]).tolist() if defined else (None, None))
    return {"estimate": estimate, "low": low, "high": high, "n": int(n), "n_bootstrap": int(n_bootstrap),
            "undefined_draws": int(n_bootstrap - len(draws))}


def _finite_or_none(x):
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    x = float(x)
    return x if math.isfinite(x) else None
