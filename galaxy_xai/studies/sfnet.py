"""The SFNet studies (SPEC §4): what the two SFNets learned, and SFNets over k vs the dense CNN's features.

`feature_study` (stage sfnet_features), per target, on the validation galaxies: activation
frequency of each feature, scaled activations, the top features, the variance explained by the
top m, the head's equation, the top-activating galaxies, and (simulated data) how the top
features correlate with the true inclination and other truths; ridge R² from the dense twin's
features to the top SFNet features; for the line SFNet, linear SVM AGN classification
(Kauffmann line) from its top-m vs all its active features.

`compare_target` (stage sfnet_compare): SFNets retrained `sfnet.repeats` times per k of
`sfnet.k_list`; the dense twin's 512 features reduced to their top-k principal components +
linear regression; linear regression and XGBoost on all dense features, fitted on the training
set and (the memorisation check) on the validation set itself. Every RMSE is on the validation
galaxies, in dex.
"""
from __future__ import annotations

import logging
import time

import keras
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.multioutput import MultiOutputRegressor
from xgboost import XGBRegressor

from galaxy_xai.config.sfnet import SfnetConfig
from galaxy_xai.data.lines import agn_labels
from galaxy_xai.domain import SFNET_TARGETS
from galaxy_xai.io import write_json
from galaxy_xai.layout import ModelFolder, SfnetFeatures
from galaxy_xai.models.sfnet_training import (
    Standardiser, aligned, features_and_outputs, load_feature_table, target_sample, train_sfnet,
)
from galaxy_xai.models.training import set_seeds
from galaxy_xai.stats import pearson_columns, rmse, rmse_per_output
from galaxy_xai.xai import sfnet_features as sf

log = logging.getLogger(__name__)
TRUTHS = ("cos_i", "log_mstar", "is_disk", "dust_av", "log_sfr", "is_agn", "z")  # interpretation aids
LINES = ("log_N2", "log_Ha", "log_O3", "log_Hb")  # the BPT fluxes, in agn_labels' order


# ----------------------------------------------------------------------------- sfnet_features

def feature_study(target: str, cfg: SfnetConfig, truth: pd.DataFrame | None, trained: ModelFolder,
                  dense: ModelFolder, out: SfnetFeatures) -> dict:
    """Analyse the SFNet of `target` in `trained`, write its record and figure inputs into `out`;
    returns its metrics. `truth`: the truth table's objID and TRUTHS columns, or None (real data)."""
    record, metrics, fig, table = analyse(target, cfg, trained, truth)
    record["ridge_r2_from_dense"] = metrics["ridge_r2_from_dense"] = ridge_from_dense(
        cfg, table, dense, fig["top"], fig["names"])
    if target == "lines":
        record["svm_agn"] = metrics["svm_agn"] = svm_agn(cfg, table)
    write_json(getattr(out, f"record_{target}"), record)
    save_figure_inputs(getattr(out, f"figure_{target}"), fig, cfg.n_top_galaxies)
    log.info("%s: top features %s, frequencies %s", target, fig["names"],
             [round(float(fig["freq"][j]), 3) for j in fig["top"]])
    return metrics


def analyse(target: str, cfg: SfnetConfig, trained: ModelFolder, truth):
    """Feature analysis of one SFNet; returns (full record, metrics, figure inputs, feature table)."""
    table = load_feature_table(trained.need("features"))
    scaler = Standardiser.from_dict(trained.read_json("standardiser"))
    head = keras.models.load_model(trained.need("model"), compile=False).get_layer("head")
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    val = table["validation"]
    acts, y_val, p_val = table["features"][val], table["targets"][val], table["predictions"][val]
    freq, scale = sf.activation_frequency(acts), sf.activation_scale(acts)
    order = sf.top_features(acts)
    top = order[: cfg.top_m]
    names = [sf.feature_name(target, j) for j in top]
    equation = sf.linear_equation(kernel, bias, top, scale, scaler.mean, scaler.std)
    strongest = {j: sf.top_activating(acts, j, cfg.n_top_galaxies) for j in top}  # validation positions
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
    record = {n: {c: _finite(pearson_columns(acts[:, [j]], val_truth[c])[0]) for c in TRUTHS}
              for n, j in zip(names, top)}
    disks = val_truth["is_disk"].to_numpy(bool)
    r_all = pearson_columns(acts[:, top], val_truth["cos_i"])
    r_disks = pearson_columns(acts[disks][:, top], val_truth["cos_i"][disks])
    per_feature = {n: {"r_all": _finite(a), "r_disks": _finite(d)} for n, a, d in zip(names, r_all, r_disks)}
    return record, {"cos_i_r": per_feature, "max_abs_r_all": _max_abs(r_all), "max_abs_r_disks": _max_abs(r_disks)}


def _max_abs(r):
    return float(np.nanmax(np.abs(r))) if len(r) and np.isfinite(r).any() else None


def ridge_from_dense(cfg: SfnetConfig, table, dense: ModelFolder, top, names) -> dict:
    """R² of ridge regressions predicting each top SFNet feature from the dense twin's 512 features."""
    dense_table = load_feature_table(dense.need("features"))
    frames = {s: pd.DataFrame({"objID": table["objID"][table[s]]}) for s in ("train", "validation")}
    x = {s: aligned(dense_table, f) for s, f in frames.items()}
    y = {s: table["features"][table[s]][:, top] for s in frames}
    if not len(top):
        return {}
    r2 = sf.ridge_r2(x["train"], y["train"], x["validation"], y["validation"], cfg.ridge_alpha)
    return {n: float(v) for n, v in zip(names, r2)}


def svm_agn(cfg: SfnetConfig, table) -> dict:
    """Linear SVM AGN classification from the line SFNet's most frequent top-m vs all its active features."""
    columns = table["columns"].tolist()
    lines = [columns.index(c) for c in LINES]
    train, val = table["train"], table["validation"]
    agn = agn_labels(*table["targets"][:, lines].T)
    scale = sf.activation_scale(table["features"][train])  # the SVM sees only what training allows
    acts = sf.scale_activations(table["features"], scale)
    chosen = {f"top{cfg.top_m}": sf.top_features(table["features"][train], cfg.top_m),
              "all_active": sf.top_features(table["features"][train])}
    scores = {name: sf.svm_agn_scores(acts[train][:, cols], agn[train], acts[val][:, cols], agn[val],
                                      cfg.svm_c, cfg.seed) if len(cols) else None
              for name, cols in chosen.items()}
    scores["agn_fraction_validation"] = float(agn[val].mean())
    return scores


def save_figure_inputs(path, fig, n_top_galaxies) -> None:
    """What the figures stage needs to draw the BPT panels: validation activations and ids, the
    top features and the prepared rows of their top-activating galaxies (-1 pads short lists)."""
    top_rows = np.full((len(fig["top"]), n_top_galaxies), -1, dtype=np.int64)
    for i, j in enumerate(fig["top"]):
        top_rows[i, :len(fig["top_rows"][j])] = fig["top_rows"][j]
    np.savez(path, acts=fig["acts"], scale=fig["scale"], freq=fig["freq"], top=np.asarray(fig["top"]),
             top_rows=top_rows, objID=np.asarray(fig["objID"]).astype(str))


# ----------------------------------------------------------------------------- sfnet_compare

def compare_target(cfg: SfnetConfig, target: str, images, catalog: pd.DataFrame, dense: ModelFolder):
    """Dense baselines, then the SFNet sweep over k, for one target: (metrics, runs, figure curve)."""
    base = dense_baselines(cfg, dense)
    log.info("%s: dense %.4f, PCA %s, linear %s, XGBoost %s", target, base["dense"], base["pca"],
             base["linear"], base["xgboost"])
    sweep, runs = sfnet_sweep(cfg, target, images, catalog, dense)
    metrics = {"dense_rmse": base["dense"], "k_table": k_table(sweep, base), "linear": base["linear"],
               "xgboost": base["xgboost"], "n_train": base["n_train"], "n_validation": base["n_validation"]}
    rows = metrics["k_table"].values()
    curve = {"k": [r["k"] for r in rows], "sfnet_mean": [r["sfnet"] for r in rows],
             "sfnet_sem": [r["sfnet_sem"] for r in rows], "pca": [r["pca"] for r in rows], "dense": base["dense"]}
    return metrics, runs, curve


def sfnet_sweep(cfg: SfnetConfig, target: str, images, catalog: pd.DataFrame, dense: ModelFolder):
    """Validation RMSE (dex) of an SFNet for every k and repeat: {k: [rmse per repeat]}, and run logs."""
    train, val = target_sample(catalog, target)
    columns = SFNET_TARGETS[target][1]
    scaler = Standardiser.fit(train[columns], cfg.standardise)
    table = load_feature_table(dense.need("features"))
    dense_path = dense.need("model")
    results, runs = {}, []
    for k in cfg.k_list:
        for repeat in range(cfg.repeats):
            start = time.perf_counter()
            keras.backend.clear_session()  # one model in memory at a time
            set_seeds(cfg.seed + repeat)
            twin = keras.models.load_model(dense_path, compile=False) if cfg.init == "dense" else None
            model, _ = train_sfnet(cfg, k, images, train, val, columns, scaler, twin, aligned(table, train),
                                   seed=cfg.seed + repeat)
            _, outputs = features_and_outputs(model, images, val["row"], cfg.batch_size)
            y_val, p_val = val[columns], scaler.inverse(outputs)
            total = rmse(y_val, p_val)
            results.setdefault(k, []).append(total)
            runs.append({"target": target, "k": k, "repeat": repeat, "val_rmse": total,
                         "val_rmse_per_output": dict(zip(columns, rmse_per_output(y_val, p_val))),
                         "seconds": time.perf_counter() - start})
            log.info("%s: SFNet k=%d repeat %d validation RMSE %.4f dex (%.0f s)", target, k, repeat, total,
                     runs[-1]["seconds"])
    return results, runs


def dense_baselines(cfg: SfnetConfig, dense: ModelFolder) -> dict:
    """Dense CNN, its top-k PCA + linear regression, linear regression and XGBoost on all 512 features."""
    table = load_feature_table(dense.need("features"))
    train, val = table["train"], table["validation"]
    x_train, x_val = table["features"][train], table["features"][val]
    y_train, y_val = table["targets"][train], table["targets"][val]
    # One single-output booster per line (xgboost's joint multi-output trees were ~20x slower here),
    # one thread (more only contend on this 2-core machine).
    xgb = dict(cfg.xgboost, random_state=cfg.seed, n_jobs=1)
    return {
        "dense": rmse(y_val, table["predictions"][val]),
        "pca": sf.pca_topk_rmse(x_train, y_train, x_val, y_val, cfg.k_list),
        "linear": sf.fit_and_memorise(LinearRegression, x_train, y_train, x_val, y_val),
        "xgboost": sf.fit_and_memorise(lambda: MultiOutputRegressor(XGBRegressor(**xgb)), x_train, y_train, x_val, y_val),
        "n_train": int(train.sum()), "n_validation": int(val.sum()),
    }


def k_table(sweep: dict, base: dict) -> dict:
    """Per k: SFNet mean, standard error over repeats (0 with one repeat) and every run; PCA."""
    table = {}
    for k, values in sweep.items():
        values = np.asarray(values)
        sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
        table[f"k{k}"] = {"k": k, "sfnet": float(values.mean()), "sfnet_sem": sem, "sfnet_runs": values.tolist(),
                          "pca": base["pca"][k]}
    return table
