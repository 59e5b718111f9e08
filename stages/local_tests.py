"""Stage local_tests@<dataset>: local independence tests of the target y and a query x, unconditional
and given a condition c, over each galaxy's k_nn nearest training neighbours in the SCL latent space
of one input set (SPEC §6; defaults y = lgm_tot_p50, x = expAB_r, c = z).

Outputs out/local_tests/<dataset>/tests.parquet (row, split, corr, corr_permuted, corr_cond,
corr_cond_permuted, pred_eff, pred_eff_cond per galaxy; truth_* the same with the truth query, below)
and out/metrics/local_tests_<dataset>.json: per split, how far the corr distribution departs from its permuted null, and the mean predictive
efficiencies; plus the same tests over the whole training set at once ("global"), the reference
for what holds in the population rather than among look-alike galaxies. For simulated data
(`data.truth`), `local_tests.truth_query` repeats everything with a latent truth column as x
(default cos_i, the true inclination behind the observed axis ratio).
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.causal import independence as ind
from galaxy_xai.io import ParamError, atomic_path, check_known, get_logger, load_params, require, write_json

log = get_logger("stage.local_tests")

PREPARED = Path("out/prepared/stellar_mass")
TESTS = ("corr", "corr_permuted", "corr_cond", "corr_cond_permuted", "pred_eff", "pred_eff_cond")


def local_test_settings(params, source="params.yaml") -> dict:
    check_known(params, "local_tests", ("target", "query", "condition", "k_nn", "weights", "truth_query", "seed"), source)
    name = lambda key: require(params, f"local_tests.{key}", str, source=source)  # noqa: E731
    return dict(target=name("target"), query=name("query"), condition=name("condition"),
                k_nn=require(params, "local_tests.k_nn", int, lambda v: v >= 4, "an integer >= 4", source),
                weights=require(params, "local_tests.weights", bool, source=source),
                truth_query=require(params, "local_tests.truth_query", (str, type(None)), what="a truth column or null", source=source),
                truth=require(params, "data.truth", (str, type(None)), what="a path or null", source=source),
                seed=require(params, "local_tests.seed", int, source=source))


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


def catalogue_columns(cfg, prepared, rows) -> dict:
    cat = pd.read_parquet(Path(prepared) / "catalog.parquet")
    if not np.array_equal(cat["row"].to_numpy(), rows):
        raise ParamError(f"{prepared}/catalog.parquet no longer matches the SCL predictions; rerun scl")
    out = {}
    for role in ("target", "query", "condition"):
        if cfg[role] not in cat.columns:
            raise ParamError(f"local_tests.{role}: the catalogue has no column {cfg[role]!r}")
        out[role] = cat[cfg[role]].to_numpy(dtype=np.float64)  # nulls stay sentinels: the tests drop them
    return out


def truth_column(path, column, rows) -> np.ndarray:
    """A latent truth column for the catalogue rows (truth key `sm_row` = catalogue row)."""
    truth = pd.read_parquet(path)
    if column not in truth.columns:
        raise ParamError(f"local_tests.truth_query: {path} has no column {column!r}")
    values = truth.set_index("sm_row")[column].reindex(rows).to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise ParamError(f"{path}: some stellar-mass catalogue rows are missing from the truth table")
    return values


def tests_with_query(v, x, neighbours, split, rng, weights) -> dict:
    """Per-galaxy tests of y ⟂ x (| c) with query values x, the global reference and the summaries."""
    tests = run_tests(v["target"][neighbours], x[neighbours], v["condition"][neighbours], rng, weights)
    summary = {"global": global_reference(v["target"], x, v["condition"], split == "train", rng),
               "splits": {s: summarise_tests({k: t[split == s] for k, t in tests.items()})
                          for s in ("train", "validation", "test") if (split == s).any()}}
    return tests, summary


def main(name, params_path="params.yaml", prepared=PREPARED, scl_root="out/scl", knn_root="out/knn",
         out_root="out/local_tests", metrics_dir="out/metrics"):
    cfg = local_test_settings(load_params(params_path), params_path)
    neighbours = np.load(Path(knn_root) / name / "neighbours.npy")
    if cfg["k_nn"] > neighbours.shape[1]:
        raise ParamError(f"{params_path}: 'local_tests.k_nn' ({cfg['k_nn']}) exceeds the "
                         f"{neighbours.shape[1]} neighbours knn@{name} kept (knn.k_max)")
    neighbours = neighbours[:, : cfg["k_nn"]]
    table = pd.read_parquet(Path(scl_root) / name / "predictions.parquet", columns=["row", "split"])
    v = catalogue_columns(cfg, prepared, table["row"].to_numpy())
    weights = latent_weights(np.load(Path(scl_root) / name / "latent.npy"), neighbours) if cfg["weights"] else None
    log.info("local_tests@%s: y = %s, x = %s, c = %s over %d neighbours of %d galaxies%s", name, cfg["target"],
             cfg["query"], cfg["condition"], cfg["k_nn"], len(neighbours), ", latent-kernel weights" if cfg["weights"] else "")
    rng = np.random.default_rng(cfg["seed"])
    split = table["split"].to_numpy()
    tests, summary = tests_with_query(v, v["query"], neighbours, split, rng, weights)
    metrics = {"dataset": name, **{k: cfg[k] for k in ("target", "query", "condition", "k_nn", "weights")}, **summary}
    columns = {"row": table["row"], "split": split, **tests}
    if cfg["truth"] is not None and cfg["truth_query"] is not None:
        x_true = truth_column(cfg["truth"], cfg["truth_query"], table["row"].to_numpy())
        truth_tests, metrics[f"truth_{cfg['truth_query']}"] = tests_with_query(v, x_true, neighbours, split, rng, weights)
        columns |= {f"truth_{k}": t for k, t in truth_tests.items()}
    with atomic_path(Path(out_root) / name) as tmp:
        tmp.mkdir()
        pd.DataFrame(columns).to_parquet(tmp / "tests.parquet", index=False)
    write_json(Path(metrics_dir) / f"local_tests_{name}.json", metrics)
    for s, m in metrics["splits"].items():
        u, k = m["unconditional"], m["conditional"]
        log.info("local_tests@%s %s: mean corr %+.3f (null %+.3f, KS %.3f, %.0f%% beyond the null band); "
                 "given %s: %+.3f (null %+.3f, KS %.3f, %.0f%%)", name, s, u["mean_corr"], u["mean_corr_permuted"],
                 u["ks_statistic"], 100 * u["frac_beyond_null_band"], cfg["condition"], k["mean_corr"],
                 k["mean_corr_permuted"], k["ks_statistic"], 100 * k["frac_beyond_null_band"])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
