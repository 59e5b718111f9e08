"""Stage sfnet_features: what the two SFNets (k = train.k) learned, on the validation galaxies (SPEC §4).

Per target: activation frequency of each feature, scaled activations, the top features, the
variance explained by the top m, the head's equation, the top-activating galaxies, BPT figures,
and (simulated data) how the top features correlate with the true inclination and other truths.
Across models: ridge R² from the dense twin's features to the top SFNet features, and linear SVM
AGN classification (Kauffmann line) from the line SFNet's top-m vs all its active features.
"""
import json
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # match the training stages' kernels

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import galaxy_xai.models.sfnet  # noqa: E402,F401  (registers TopK for loading)
from galaxy_xai.io import atomic_path, get_logger, load_params, require, write_json  # noqa: E402
from galaxy_xai.models.sfnet_training import (  # noqa: E402
    Standardiser, aligned, load_feature_table, settings,
)
from galaxy_xai.plots import sfnet as plots  # noqa: E402
from galaxy_xai.xai import sfnet_features as sf  # noqa: E402

log = get_logger("stage.sfnet_features")
TARGETS = ("metallicity", "lines")
TRUTHS = ("cos_i", "log_mstar", "is_disk", "dust_av", "log_sfr", "is_agn", "z")  # interpretation aids


def analyse(target, cfg, train_root, truth):
    """Feature analysis of one SFNet; returns (full record, metrics, figure inputs)."""
    table = load_feature_table(Path(train_root) / target / "features.npz")
    scaler = Standardiser.from_dict(json.loads((Path(train_root) / target / "standardiser.json").read_text()))
    head = keras.models.load_model(Path(train_root) / target / "model.keras", compile=False).get_layer("head")
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    val = table["validation"]
    acts, y_val, p_val = table["features"][val], table["targets"][val], table["predictions"][val]
    freq, scale = sf.activation_frequency(acts), sf.activation_scale(acts)
    order = sf.top_features(acts)
    top = order[: cfg["top_m"]]
    names = [plots.feature_name(target, j) for j in top]
    equation = sf.linear_equation(kernel, bias, top, scale, scaler.mean, scaler.std)
    strongest = {j: sf.top_activating(acts, j, cfg["n_top_galaxies"]) for j in top}  # validation positions
    top_rows = {j: table["row"][val][i] for j, i in strongest.items()}
    explained = {m: {"target": sf.variance_explained_by_top(acts, y_val, order, m),
                     "prediction": sf.variance_explained_by_top(acts, p_val, order, m)}
                 for m in range(1, len(top) + 1)}
    record = {
        "columns": table["columns"].tolist(), "n_validation": int(val.sum()),
        "active_features": [{"feature": int(j), "frequency": float(freq[j])} for j in order],  # most frequent first
        "top_features": [int(j) for j in top], "names": names,
        "variance_explained_by_top_m": explained,
        "equation": {"intercept": equation["intercept"], "coef": {n: c for n, c in zip(names, equation["coef"])}},
        "top_galaxies": {n: table["objID"][val][strongest[j]].tolist() for n, j in zip(names, top)},
    }
    metrics = {
        "features_ever_active": len(order),
        "top": {f"rank{r + 1}": {"feature": int(j), "frequency": float(freq[j])} for r, j in enumerate(top)},
        "variance_explained_top_m": explained[len(top)]["target"] if len(top) else None,
        "variance_explained_top_m_of_prediction": explained[len(top)]["prediction"] if len(top) else None,
    }
    if truth is not None:
        record["truth_correlations"], metrics["inclination"] = truth_links(acts, top, names, table, truth)
    figure = dict(acts=acts, scale=scale, freq=freq, top=top, names=names, top_rows=top_rows, equation=equation,
                  columns=table["columns"].tolist(), objID=table["objID"][val])
    return record, metrics, figure, table


def _finite(x):
    """A float for JSON, None where undefined (e.g. r of a feature constant over the galaxies)."""
    return float(x) if np.isfinite(x) else None


def truth_links(acts, top, names, table, truth):
    """Pearson r of each top feature with true variables; inclination (cos i) over all galaxies and disks only.

    Inclination is only defined for disks (the simulator's edge-on fibre bias acts on them alone),
    so the disks-only r is the physical test; the all-galaxy r is diluted by the ellipticals.
    """
    val_truth = truth.set_index("objID").reindex(table["objID"][table["validation"]])
    record = {n: {c: _finite(sf.correlations(acts[:, [j]], val_truth[c])[0]) for c in TRUTHS} for n, j in zip(names, top)}
    disks = val_truth["is_disk"].to_numpy(bool)
    r_all = sf.correlations(acts[:, top], val_truth["cos_i"])
    r_disks = sf.correlations(acts[disks][:, top], val_truth["cos_i"][disks])
    per_feature = {n: {"r_all": _finite(a), "r_disks": _finite(d)} for n, a, d in zip(names, r_all, r_disks)}
    best = lambda r: float(np.nanmax(np.abs(r))) if len(r) and np.isfinite(r).any() else None  # noqa: E731
    return record, {"cos_i_r": per_feature, "max_abs_r_all": best(r_all), "max_abs_r_disks": best(r_disks)}


def ridge_from_dense(target, cfg, table, dense_root, top, names):
    """R² of ridge regressions predicting each top SFNet feature from the dense twin's 512 features."""
    dense = load_feature_table(Path(dense_root) / target / "features.npz")
    frames = {s: pd.DataFrame({"objID": table["objID"][table[s]]}) for s in ("train", "validation")}
    x = {s: aligned(dense, f) for s, f in frames.items()}
    y = {s: table["features"][table[s]][:, top] for s in frames}
    if not len(top):
        return {}
    r2 = sf.ridge_r2(x["train"], y["train"], x["validation"], y["validation"], cfg["ridge_alpha"])
    return {n: float(v) for n, v in zip(names, r2)}


def svm_agn(cfg, table):
    """Linear SVM AGN classification from the line SFNet's most frequent top-m vs all its active features."""
    columns = table["columns"].tolist()
    lines = [columns.index(c) for c in ("log_N2", "log_Ha", "log_O3", "log_Hb")]
    train, val = table["train"], table["validation"]
    agn = sf.agn_labels(*table["targets"][:, lines].T)
    scale = sf.activation_scale(table["features"][train])  # the SVM sees only what training allows
    acts = sf.scale_activations(table["features"], scale)
    chosen = {f"top{cfg['top_m']}": sf.top_features(table["features"][train], cfg["top_m"]),
              "all_active": sf.top_features(table["features"][train])}
    scores = {name: sf.svm_agn_scores(acts[train][:, cols], agn[train], acts[val][:, cols], agn[val],
                                      cfg["svm_c"], cfg["seed"]) if len(cols) else None
              for name, cols in chosen.items()}
    scores["agn_fraction_validation"] = float(agn[val].mean())
    return scores


def save_figure_inputs(path, fig, n_top_galaxies):
    """What the figures stage needs to draw the BPT panels: validation activations and ids, the
    top features and the prepared rows of their top-activating galaxies (-1 pads short lists)."""
    top_rows = np.full((len(fig["top"]), n_top_galaxies), -1, dtype=np.int64)
    for i, j in enumerate(fig["top"]):
        top_rows[i, :len(fig["top_rows"][j])] = fig["top_rows"][j]
    np.savez(path, acts=fig["acts"], scale=fig["scale"], freq=fig["freq"], top=np.asarray(fig["top"]),
             top_rows=top_rows, objID=np.asarray(fig["objID"]).astype(str))


def main(params_path="params.yaml", train_root="out/sfnet/train",
         dense_root="out/sfnet/dense", out_dir="out/sfnet/features"):
    params = load_params(params_path)
    cfg = settings(params, params_path)
    truth_path = require(params, "data.truth", (str, type(None)), what="a path or null", source=params_path)
    truth = None if truth_path is None else pd.read_parquet(truth_path, columns=["objID", *TRUTHS])
    metrics = {}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for target in TARGETS:
            record, metrics[target], fig, table = analyse(target, cfg, train_root, truth)
            record["ridge_r2_from_dense"] = metrics[target]["ridge_r2_from_dense"] = ridge_from_dense(
                target, cfg, table, dense_root, fig["top"], fig["names"])
            if target == "lines":
                record["svm_agn"] = metrics[target]["svm_agn"] = svm_agn(cfg, table)
            write_json(tmp / f"{target}.json", record)
            save_figure_inputs(tmp / f"figure_{target}.npz", fig, cfg["n_top_galaxies"])
            log.info("%s: top features %s, frequencies %s", target, fig["names"],
                     [round(float(fig["freq"][j]), 3) for j in fig["top"]])
    write_json("out/metrics/sfnet_features.json", metrics)
    log.info("metrics: %s", metrics)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
