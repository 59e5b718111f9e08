"""The MI study (SPEC §7): per-galaxy redundant / unique / synergistic information two input sets
carry about log M*, from the cross-entropies of three estimators (stage mi_estimate).

`decompose_pair` is the work of stage mi_decompose@<pair>; the arithmetic is
`galaxy_xai.info.decomposition`. Light on purpose: no TensorFlow import.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from galaxy_xai import checks, layout
from galaxy_xai.config.mi import pair_datasets
from galaxy_xai.errors import ParamError, StaleOutputError
from galaxy_xai.info.decomposition import convergence, decompose, summarise_components, union_not_below
from galaxy_xai.io import atomic_path, write_json
from galaxy_xai.runtime import logger

log = logger("mi")


def check_estimated(pair, cfg, estimate=layout.mi_estimate) -> tuple[str, str, str]:
    """The pair's three input sets (A, B, A+B), after checking that mi.pairs lists the pair and
    that each set was estimated (`estimate`: input set -> its mi_estimate folder)."""
    if pair not in cfg.pairs:
        raise ParamError(f"params.yaml: key 'mi.pairs' must list {pair!r} to decompose it, got {list(cfg.pairs)}")
    names = pair_datasets(pair)
    absent = [d for d in names if not estimate(d).summary.is_file()]
    if absent:
        raise StaleOutputError(f"mi_decompose@{pair}: no estimate for {', '.join(absent)}; "
                               f"run the stage mi_estimate@{absent[0]} first")
    return names


def load_estimates(folders: dict, bins, y_min, y_max):
    """Cross-entropies of the estimators `folders` (input set -> folder), aligned by catalogue row,
    with the first one's table and every summary; each must use the bins asked for."""
    tables, summaries = [], {}
    for name, folder in folders.items():
        summary = folder.read_json("summary")
        if (summary["bins"], summary["y_min"], summary["y_max"]) != (bins, y_min, y_max):
            raise StaleOutputError(f"{folder.dir}: estimated with {summary['bins']} bins on [{summary['y_min']}, "
                                   f"{summary['y_max']}], but mi asks for {bins} on [{y_min}, {y_max}]; "
                                   f"rerun mi_estimate")
        tables.append(folder.read_parquet("predictions"))
        summaries[name] = summary
    first = tables[0]
    if not all(np.array_equal(t["row"].to_numpy(), first["row"].to_numpy()) for t in tables[1:]):
        raise StaleOutputError(f"the estimates of {', '.join(folders)} cover different galaxies; rerun mi_estimate")
    return first, [t["cross_entropy"].to_numpy() for t in tables], summaries


def estimator_quality(summaries) -> dict:
    """Validation (else test) cross-entropy and σ_MAD of each estimator."""
    out = {}
    for name, summary in summaries.items():
        split = next((s for s in ("validation", "test") if s in summary["splits"]), None)
        if split is not None:
            m = summary["splits"][split]
            out[name] = {"split": split, "cross_entropy": m["cross_entropy"], "sigma_mad": m["mean"]["sigma_mad"]}
    return out


def decompose_pair(pair, cfg, out: layout.Decomposition, estimate=layout.mi_estimate) -> dict:
    """Decompose the information of pair 'A-B' (mi group cfg) per galaxy; write out/components.parquet
    (row, split, prior_surprise and the components, nats) and out/summary.json, and return that summary:
    mean components per split, the three estimators' validation cross-entropy and σ_MAD, the checks
    (`pair_checks`), and the headline (mean test synergy with its CI). A failed check marks the
    decomposition inconclusive: `conclusive` false, the failed names in `inconclusive_because` (and in
    every split's entry, which the figure reads)."""
    names = check_estimated(pair, cfg, estimate)
    table, (ce1, ce2, ce12), summaries = load_estimates({n: estimate(n) for n in names}, cfg.bins,
                                                        cfg.y_min, cfg.y_max)
    log.info("mi_decompose@%s: %s, %s and %s over %d galaxies", pair, *names, len(table))
    y = table["target"].to_numpy()
    components = decompose(y, ce1, ce2, ce12, cfg.bins, cfg.y_min, cfg.y_max)
    split = table["split"].to_numpy()
    found, details = pair_checks(names, y, split, (ce1, ce2, ce12), cfg)
    failed = checks.failed(found)
    on = details["split"]
    rows = (split == on) & np.isfinite(components["synergy"])
    synergy = checks.bootstrap_ci(np.mean, components["synergy"][rows], n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
    splits = summarise_components(components, split)
    for entry in splits.values():
        entry["inconclusive_because"] = failed
    metrics = {"pair": pair, "inputs": dict(zip(("input1", "input2", "union"), names)),
               "splits": splits, "estimators": estimator_quality(summaries),
               "conclusive": not failed, "inconclusive_because": failed, "check_details": details,
               "checks": found,
               "headlines": {f"synergy_{pair}": checks.headline(
                   f"The information {names[0]} and {names[1]} carry about log M* splits into redundant, unique "
                   f"and synergistic parts (the stellar-mass study's MI decomposition; here the mean {on} synergy)",
                   "not given in the source documents (code README only)", synergy["estimate"], "nats",
                   list(found), low=synergy["low"], high=synergy["high"])},
               "n": {"headline": synergy["n"]}}
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        files = out.at(tmp)
        pd.DataFrame({"row": table["row"], "split": split, **components}).to_parquet(files.components, index=False)
        write_json(files.summary, metrics)  # the figures read it here (metrics files are per pair)
    for s, m in metrics["splits"].items():
        log.info("mi_decompose@%s %s: MI %.2f / %.2f / %.2f nats (%s / %s / union); R %.2f, U1 %.2f, U2 %.2f, "
                 "S %+.2f", pair, s, m["mi1"], m["mi2"], m["mi12"], names[0], names[1], m["redundant"],
                 m["unique1"], m["unique2"], m["synergy"])
    if failed:
        log.warning("mi_decompose@%s: inconclusive, failed checks: %s", pair, ", ".join(failed))
    return metrics


def pair_checks(names, y, split, ces, cfg, on: str = "test") -> tuple[dict, dict]:
    """The validity checks of one decomposition on the `on` galaxies: each of the three estimators
    beats the training prior (`converged_<set>`), and the union's MI is not below either input's
    (`union_not_below_<set>`); with their details (CIs, n)."""
    found, details = {}, {"split": on}
    for name, ce in zip(names, ces):
        found[f"converged_{name}"], details[f"converged_{name}"] = convergence(
            y, split, ce, cfg.bins, cfg.y_min, cfg.y_max, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed, on=on)
    for name, ce in zip(names[:2], ces[:2]):
        found[f"union_not_below_{name}"], details[f"union_not_below_{name}"] = union_not_below(
            ce, ces[2], split, name, names[2], n_bootstrap=cfg.n_bootstrap, seed=cfg.seed,
            tolerance=cfg.union_tolerance, on=on)
    return found, details
