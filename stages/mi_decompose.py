"""Stage mi_decompose@<pair>: per-galaxy decomposition of the information two input sets carry
about log M* into redundant, unique and synergistic parts (SPEC §7).

A pair "A-B" uses the estimators of A, B and their union "A+B" (stage mi_estimate). Outputs
out/mi/decompose/<pair>/components.parquet (row, split, prior_surprise, mi1, mi2, mi12, redundant,
unique1, unique2, synergy; nats) and summary.json, copied to out/metrics/mi_<pair>.json: mean
components per split, and the three estimators' validation cross-entropy and σ_MAD (how far to
trust them).
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.info.decomposition import decompose, summarise_components
from galaxy_xai.io import ParamError, atomic_path, get_logger, load_params, require, write_json

log = get_logger("stage.mi_decompose")


def pair_datasets(pair: str) -> tuple:
    """('A', 'B', 'A+B') of a pair written 'A-B'."""
    parts = pair.split("-")
    if len(parts) != 2 or not all(parts):
        raise ParamError(f"MI pair {pair!r} must be written 'A-B' with two input-set names, e.g. 'Mopt-Ioptnorm'")
    return parts[0], parts[1], f"{parts[0]}+{parts[1]}"


def missing_datasets(pairs, datasets) -> dict:
    """Per pair, the input sets it needs that `datasets` does not list (pairs needing none left out)."""
    missing = {}
    for pair in pairs:
        lacking = [d for d in pair_datasets(pair) if d not in datasets]
        if lacking:
            missing[pair] = lacking
    return missing


def check_estimated(pair, params, estimate_root, source="params.yaml") -> tuple:
    """The pair's three input sets, after checking that each was listed and estimated."""
    pairs = require(params, "mi.pairs", list, lambda v: pair in v, f"a list containing {pair!r}", source)
    datasets = require(params, "mi.datasets", list, source=source)
    missing = missing_datasets(pairs, datasets)
    if missing:
        needs = "; ".join(f"{p} needs {', '.join(d)}" for p, d in missing.items())
        raise ParamError(f"{source}: 'mi.datasets' lacks input sets that 'mi.pairs' use ({needs}); add them")
    names = pair_datasets(pair)
    absent = [d for d in names if not (Path(estimate_root) / d / "summary.json").is_file()]
    if absent:
        raise ParamError(f"mi_decompose@{pair}: no estimate for {', '.join(absent)} under {estimate_root}; "
                         f"run mi_estimate@{absent[0]} first")
    return names


def load_estimates(names, estimate_root, bins, y_min, y_max):
    """Cross-entropies of the three estimators (aligned by catalogue row) and their summaries."""
    tables, summaries = [], {}
    for name in names:
        directory = Path(estimate_root) / name
        summary = json.loads((directory / "summary.json").read_text())
        if (summary["bins"], summary["y_min"], summary["y_max"]) != (bins, y_min, y_max):
            raise ParamError(f"{directory}: estimated with {summary['bins']} bins on [{summary['y_min']}, "
                             f"{summary['y_max']}], but mi asks for {bins} on [{y_min}, {y_max}]; rerun mi_estimate")
        tables.append(pd.read_parquet(directory / "predictions.parquet"))
        summaries[name] = summary
    first = tables[0]
    if not all(np.array_equal(t["row"].to_numpy(), first["row"].to_numpy()) for t in tables[1:]):
        raise ParamError(f"the estimates of {', '.join(names)} cover different galaxies; rerun mi_estimate")
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


def main(pair, params_path="params.yaml", estimate_root="out/mi/estimate", out_root="out/mi/decompose",
         metrics_dir="out/metrics"):
    params = load_params(params_path)
    names = check_estimated(pair, params, estimate_root, params_path)
    num = (int, float)
    bins = require(params, "mi.bins", int, lambda v: v >= 2, "an integer >= 2", params_path)
    y_min = float(require(params, "mi.y_min", num, source=params_path))
    y_max = float(require(params, "mi.y_max", num, source=params_path))
    table, (ce1, ce2, ce12), summaries = load_estimates(names, estimate_root, bins, y_min, y_max)
    log.info("mi_decompose@%s: %s, %s and %s over %d galaxies", pair, *names, len(table))
    components = decompose(table["target"].to_numpy(), ce1, ce2, ce12, bins, y_min, y_max)
    split = table["split"].to_numpy()
    metrics = {"pair": pair, "inputs": dict(zip(("input1", "input2", "union"), names)),
               "splits": summarise_components(components, split), "estimators": estimator_quality(summaries)}
    with atomic_path(Path(out_root) / pair) as tmp:
        tmp.mkdir()
        pd.DataFrame({"row": table["row"], "split": split, **components}).to_parquet(tmp / "components.parquet", index=False)
        write_json(tmp / "summary.json", metrics)  # the figures read it here (metrics files are per pair)
    write_json(Path(metrics_dir) / f"mi_{pair}.json", metrics)
    for s, m in metrics["splits"].items():
        log.info("mi_decompose@%s %s: MI %.2f / %.2f / %.2f nats (%s / %s / union); R %.2f, U1 %.2f, U2 %.2f, "
                 "S %+.2f", pair, s, m["mi1"], m["mi2"], m["mi12"], names[0], names[1], m["redundant"],
                 m["unique1"], m["unique2"], m["synergy"])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
