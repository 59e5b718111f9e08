"""The stellar-mass study after SCL (SPEC §6): each galaxy's nearest training galaxies in an SCL
latent space, and the local independence tests of log M* and a query among those look-alikes.

`latent_neighbours` is the work of stage knn@<dataset>, `independence_tests` that of stage
local_tests@<dataset>; the numerical cores are `galaxy_xai.causal.knn` and `.independence`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from galaxy_xai import checks, layout
from galaxy_xai.causal import independence as ind
from galaxy_xai.causal.knn import nearest_training_neighbours
from galaxy_xai.domain import SPLITS
from galaxy_xai.errors import InputError, ParamError, StaleOutputError
from galaxy_xai.io import atomic_path, write_json
from galaxy_xai.runtime import logger

log = logger("stellar_mass")

TESTS = ("corr", "corr_permuted", "corr_cond", "corr_cond_permuted", "pred_eff", "pred_eff_cond")
ROLES = ("target", "query", "condition")  # the local_tests keys naming catalogue columns y, x, c


# ------------------------------------------------------------------------------ neighbours (knn)

def latent_neighbours(source: layout.Estimator, cfg, out: layout.Neighbours) -> dict:
    """The cfg.k_max (knn group) nearest training galaxies of every galaxy in the main-latent space
    of the SCL model `source`, nearest first; a training galaxy is its own first neighbour.

    Writes `out`: neighbours.npy, int32 [n, k_max], row i = galaxy i of the SCL predictions
    (catalogue order), values = rows of that table; and summary.json, which is returned.
    """
    dataset = source.dir.name
    latent = source.read_npy("latent")
    table = source.read_parquet("predictions", columns=["row", "split"])
    train_ids = np.flatnonzero(table["split"].to_numpy() == "train")
    if cfg.k_max > len(train_ids):
        raise ParamError(f"params.yaml: key 'knn.k_max' ({cfg.k_max}) exceeds the {len(train_ids)} "
                         f"training galaxies of {source.stage}")
    log.info("knn@%s: %d nearest of %d training galaxies for %d galaxies in a %d-d latent space",
             dataset, cfg.k_max, len(train_ids), len(latent), latent.shape[1])
    neighbours = nearest_training_neighbours(latent, train_ids, cfg.k_max, cfg.chunk_size, progress=True,
                                             workers=cfg.workers)
    summary = {"dataset": dataset, "k_max": cfg.k_max, "n_train": len(train_ids), "n_galaxies": len(latent)}
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        files = out.at(tmp)
        np.save(files.neighbours, neighbours)
        write_json(files.summary, summary)
    return summary


# ------------------------------------------------------------------------------ the test battery

def latent_weights(latent, neighbours) -> np.ndarray:
    """Gaussian kernel of the latent distance to each neighbour, [n, k]; the bandwidth is the
    galaxy's median neighbour distance, so dense and sparse regions weigh alike."""
    distance = np.linalg.norm(latent[neighbours] - latent[:, None, :], axis=2)
    bandwidth = np.median(distance, axis=1, keepdims=True)
    return np.exp(-0.5 * (distance / np.where(bandwidth > 0, bandwidth, 1.0)) ** 2)


def run_tests(y, x, c, rng, weights=None) -> dict:
    """Every test of SPEC §6 on [n, k] neighbour values: per-galaxy arrays keyed as TESTS."""
    corr, corr_permuted = ind.local_correlation(y, x, rng, weights)
    corr_cond, corr_cond_permuted = ind.conditional_correlation(y, x, c, rng, weights)
    return {"corr": corr, "corr_permuted": corr_permuted, "corr_cond": corr_cond,
            "corr_cond_permuted": corr_cond_permuted, "pred_eff": ind.predictive_efficiency(y, x, weights),
            "pred_eff_cond": ind.conditional_predictive_efficiency(y, x, c, weights)}


def summarise_tests(tests: dict) -> dict:
    """Corr against its permuted null and mean predictive efficiency, unconditional and given c."""
    out = {}
    for label, suffix in (("unconditional", ""), ("conditional", "_cond")):
        entry = ind.summarise(tests[f"corr{suffix}"], tests[f"corr{suffix}_permuted"])
        entry["mean_pred_eff"] = _nanmean(tests[f"pred_eff{suffix}"])
        out[label] = entry
    return out


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def global_reference(y, x, c, train, rng) -> dict:
    """The same statistics over all training galaxies as one neighbourhood."""
    tests = run_tests(y[train][None], x[train][None], c[train][None], rng)
    return {key: float(value[0]) for key, value in tests.items()}


def tests_with_query(v, x, neighbours, split, rng, weights) -> tuple[dict, dict]:
    """Per-galaxy tests of y ⟂ x (| c) with query values x, and their summary: the global
    reference and, per split present, `summarise_tests`. `v`: catalogue columns by role."""
    tests = run_tests(v["target"][neighbours], x[neighbours], v["condition"][neighbours], rng, weights)
    summary = {"global": global_reference(v["target"], x, v["condition"], split == "train", rng),
               "splits": {s: summarise_tests({k: t[split == s] for k, t in tests.items()})
                          for s in SPLITS if (split == s).any()}}
    return tests, summary


# ------------------------------------------------------------------------------ inputs

def catalogue_columns(cfg, prepared: layout.Prepared, rows) -> dict:
    """The catalogue columns named by local_tests.target / query / condition, as float64 by role;
    the catalogue must still be the one the SCL predictions were made on (same rows)."""
    cat = prepared.read_catalog()
    if not np.array_equal(cat["row"].to_numpy(), rows):
        raise StaleOutputError(f"{prepared.catalog} no longer matches the SCL predictions; rerun scl")
    out = {}
    for role in ROLES:
        column = getattr(cfg, role)
        if column not in cat.columns:
            raise ParamError(f"params.yaml: key 'local_tests.{role}' names {column!r}, which the catalogue "
                             f"{prepared.catalog} lacks")
        out[role] = cat[column].to_numpy(dtype=np.float64)  # nulls stay sentinels: the tests drop them
    return out


def truth_column(path, column, rows) -> np.ndarray:
    """A latent truth column for the catalogue rows (truth key `sm_row` = catalogue row)."""
    truth = layout.read_truth(path, ["sm_row", column])
    values = truth.set_index("sm_row")[column].reindex(rows).to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise InputError(f"{path}: some stellar-mass catalogue rows are missing from the truth table")
    return values


# ------------------------------------------------------------------------------ the stage's work

def independence_tests(source: layout.Estimator, neighbours: layout.Neighbours, cfg, truth,
                       out: layout.LocalTests, prepared: layout.Prepared | None = None) -> dict:
    """Local tests of y ⟂ x (| c) over each galaxy's cfg.k_nn nearest training neighbours in the
    latent space of the SCL model `source` (local_tests group cfg; `truth`: data.truth or None).

    Writes out/tests.parquet (row, split and the TESTS columns per galaxy; truth_<test> with the
    truth query as x) and returns the metrics: per split how far corr departs from its permuted
    null and the mean predictive efficiencies, plus the same tests over the whole training set
    ("global"); with a truth table and local_tests.truth_query, the same under truth_<column>.
    """
    prepared = prepared or layout.prepared("stellar_mass")
    dataset = source.dir.name
    kept = neighbours.read_npy("neighbours")
    if cfg.k_nn > kept.shape[1]:
        raise ParamError(f"params.yaml: key 'local_tests.k_nn' ({cfg.k_nn}) exceeds the {kept.shape[1]} "
                         f"neighbours {neighbours.stage} kept (knn.k_max)")
    kept = kept[:, : cfg.k_nn]
    table = source.read_parquet("predictions", columns=["row", "split"])
    v = catalogue_columns(cfg, prepared, table["row"].to_numpy())
    weights = latent_weights(source.read_npy("latent"), kept) if cfg.weights else None
    log.info("local_tests@%s: y = %s, x = %s, c = %s over %d neighbours of %d galaxies%s", dataset, cfg.target,
             cfg.query, cfg.condition, cfg.k_nn, len(kept), ", latent-kernel weights" if cfg.weights else "")
    rng = np.random.default_rng(cfg.seed)
    split = table["split"].to_numpy()
    tests, summary = tests_with_query(v, v["query"], kept, split, rng, weights)
    metrics = {"dataset": dataset, **{k: getattr(cfg, k) for k in (*ROLES, "k_nn", "weights")}, **summary}
    columns = {"row": table["row"], "split": split, **tests}
    if truth is not None and cfg.truth_query is not None:
        x_true = truth_column(truth, cfg.truth_query, table["row"].to_numpy())
        truth_tests, metrics[f"truth_{cfg.truth_query}"] = tests_with_query(v, x_true, kept, split, rng, weights)
        columns |= {f"truth_{k}": t for k, t in truth_tests.items()}
    metrics |= tests_checks(tests, split, source, cfg)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        pd.DataFrame(columns).to_parquet(out.at(tmp).tests, index=False)
    _log_summary(dataset, cfg.condition, metrics["splits"])
    return metrics


def scl_converged(source: layout.Estimator) -> dict:
    """The SCL model's own convergence check (scl summary.json), as a validity check of the tests:
    neighbours in the latent space of a model at the prior are not look-alikes in mass."""
    found = source.read_json("summary").get("checks", {}).get("converged") if source.summary.is_file() else None
    if found is None:
        return checks.check(False, None, 0.0, f"{source.stage} records no convergence check; rerun it", "validity")
    return found | {"meaning": f"{source.stage}: " + found["meaning"]}


def tests_checks(tests: dict, split, source: layout.Estimator, cfg, on: str = "test") -> dict:
    """"checks" and "headlines" of the local tests on the `on` galaxies: per form (unconditional,
    given c) the mean local corr(y, x) minus its permuted null with a bootstrap CI; the claim check
    `dependence_<form>` passes when that CI lies above 0, and `scl_converged` decides whether it can
    be read at all."""
    found, heads, n = {"scl_converged": scl_converged(source)}, {}, {}
    for form, suffix, given in (("unconditional", "", ""), ("conditional", "_cond", f" given {cfg.condition}")):
        corr, null = tests[f"corr{suffix}"], tests[f"corr{suffix}_permuted"]
        rows = (split == on) & np.isfinite(corr) & np.isfinite(null)
        ci = checks.bootstrap_ci(np.mean, corr[rows] - null[rows], n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
        name = f"dependence_{form}"
        found[name] = checks.check(ci["low"] is not None and ci["low"] > 0, ci["estimate"], 0.0,
                                   f"mean local corr({cfg.target}, {cfg.query}){given} minus its permuted null over "
                                   f"{cfg.k_nn} latent neighbours, {on} galaxies (n {ci['n']}); passes when the "
                                   f"95 % bootstrap CI is above 0")
        heads[f"local_corr_{form}"] = checks.headline(
            f"Among look-alike galaxies (nearest in the SCL latent space) {cfg.target} and {cfg.query} are locally "
            f"dependent{given} (the stellar-mass study's local independence tests)",
            "not given in the source documents (code README only)", ci["estimate"], "Pearson r",
            ["scl_converged", name], low=ci["low"], high=ci["high"])
        n[name] = ci["n"]
    return {"checks": found, "headlines": heads, "n": n}


def _log_summary(dataset, condition, splits) -> None:
    for s, m in splits.items():
        u, k = m["unconditional"], m["conditional"]
        log.info("local_tests@%s %s: mean corr %+.3f (null %+.3f, KS %.3f, %.0f%% beyond the null band); "
                 "given %s: %+.3f (null %+.3f, KS %.3f, %.0f%%)", dataset, s, u["mean_corr"],
                 u["mean_corr_permuted"], u["ks_statistic"], 100 * u["frac_beyond_null_band"], condition,
                 k["mean_corr"], k["mean_corr_permuted"], k["ks_statistic"], 100 * k["frac_beyond_null_band"])
