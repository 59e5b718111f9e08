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

Two sources of dense features, named in every key: the *twin* (stage sfnet_dense, the SFNet's
ResNet18 trained on the target itself: top-level `dense_rmse`, `linear`, `xgboost`, `memorisation`,
`k_table.*.pca`, `ridge_r2_from_dense`) and the *Zoobot analogue* (stage sfnet_zoobot, the same
ResNet18 trained on the simulated Galaxy Zoo votes, as the paper's Zoobot: everything under `zoobot`,
`k_table.*.zoobot_pca`, `ridge_r2_from_zoobot`). The paper's Zoobot claims are read from the second.
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

from galaxy_xai import checks as ck
from galaxy_xai.config.sfnet import SfnetConfig
from galaxy_xai.data.lines import agn_labels
from galaxy_xai.domain import SFNET_TARGETS
from galaxy_xai.errors import InputError, StaleOutputError
from galaxy_xai.io import write_json
from galaxy_xai.layout import ModelFolder, SfnetFeatures, SfnetZoobot
from galaxy_xai.models.sfnet_training import (
    Standardiser, aligned, beats_mean_check, features_and_outputs, load_feature_table, minus_mean, morphology_check,
    target_sample, train_sfnet,
)
from galaxy_xai.models.training import set_seeds
from galaxy_xai.stats import pearson_columns, pearson_r, rmse, rmse_per_output
from galaxy_xai.xai import sfnet_features as sf

log = logging.getLogger(__name__)
TRUTHS = ("cos_i", "log_mstar", "is_disk", "dust_av", "log_sfr", "is_agn", "z")  # interpretation aids
LINES = ("log_N2", "log_Ha", "log_O3", "log_Hb")  # the BPT fluxes, in agn_labels' order
# What a host shows of its AGN in this universe (data/population.py draws AGN from mass, bulge and
# star formation; a Seyfert may add a nucleus): the AGN SVM's ceiling is the same SVM fed these truths.
AGN_HOST = ("log_mstar", "bulge_frac", "log_sfr", "dust_av", "nuclear_frac_r", "z")
EXPLAIN = ("log_mstar", "petroR90_r", "cos_i")  # what the dense features' leading PCs are held against: mass, size, inclination
# The twin's features: the paper's Zoobot was trained on Galaxy Zoo votes, the twin on the target, so
# the Zoobot claims cannot be read from the twin (a failed validity check says so when the Zoobot
# analogue's features are not given; with them, the Zoobot claims are read from those).
DENSE_SOURCE = "target-trained twin"
SOURCES = {"twin": "the SFNet's ResNet18 trained on the target itself (stage sfnet_dense)",
           "zoobot": "the SFNet's ResNet18 trained on the simulated Galaxy Zoo votes, applied to the SDSS crops "
                     "(stage sfnet_zoobot; the paper's Zoobot)"}
PAPER_ZOOBOT = {"linear_fit_on_train": "0.183", "memorisation": "0.181", "xgboost_fit_on_train": "0.180",
                "xgboost_fit_on_validation": "0.085"}  # seed 003, metallicity, dex

# Seed 003, Table 1 (validation RMSE, dex): k -> (SFNet mean of 3, CNN + PCA top k).
PAPER_TABLE = {"metallicity": {2: (0.0858, 0.1753), 3: (0.0862, 0.2032), 4: (0.0862, 0.1034), 6: (0.0875, 0.1020),
                               8: (0.0852, 0.0921)},
               "lines": {2: (0.2418, 0.2806), 3: (0.2395, 0.2646), 4: (0.2383, 0.2646), 6: (0.2394, 0.2419),
                         8: (0.2389, 0.2396)}}
PAPER_SFNET = {"metallicity": "0.087 dex with k = 2 (0.086 with 4); a typical CNN 0.085",
               "lines": "0.2383-0.2418 dex for k = 2-8 (Table 1)"}
PAPER_RIDGE_R2 = ("0.253", "0.107")  # Zoobot features -> the two primary metallicity features Z61, Z256
PAPER_AGN = {"top": {"accuracy": "0.85", "f1": "0.72"}, "all_active": {"accuracy": "0.83", "f1": "0.70"}}


# ----------------------------------------------------------------------------- sfnet_features

def feature_study(target: str, cfg: SfnetConfig, truth: pd.DataFrame | None, trained: ModelFolder,
                  dense: ModelFolder, out: SfnetFeatures, zoobot: SfnetZoobot | None = None) -> tuple[dict, dict, dict]:
    """Analyse the SFNet of `target` in `trained`, write its record and figure inputs into `out`;
    returns its metrics, checks and headlines. `truth`: the truth table's objID and TRUTHS columns, or None (real data).
    `zoobot`: the Zoobot analogue's folder (stage sfnet_zoobot), whose features the ridge headlines read
    (None: only the twin's, and a failed validity check says the Zoobot claims cannot be read from them)."""
    record, metrics, fig, table = analyse(target, cfg, trained, truth)
    dense_table = load_feature_table(dense.need("features"))
    metrics["accuracy"] = accuracy_vs_dense(cfg, table, dense_table)
    record["ridge_r2_from_dense"] = metrics["ridge_r2_from_dense"] = ridge_from_dense(
        cfg, table, dense_table, fig["top"], fig["names"])
    if zoobot is not None:
        record["ridge_r2_from_zoobot"] = metrics["ridge_r2_from_zoobot"] = ridge_from_zoobot(
            cfg, table, dense_table, load_feature_table(zoobot.need(f"features_{target}")), fig["top"], fig["names"])
        metrics["zoobot_morphology"] = zoobot.read_json("summary")["votes"]
        metrics["sources"] = SOURCES
    if target == "lines":
        record["svm_agn"] = metrics["svm_agn"] = svm_agn(cfg, table, truth)
    write_json(getattr(out, f"record_{target}"), record)
    save_figure_inputs(getattr(out, f"figure_{target}"), fig, cfg.n_top_galaxies)
    log.info("%s: top features %s, frequencies %s", target, fig["names"],
             [round(float(fig["freq"][j]), 3) for j in fig["top"]])
    checks, headlines = feature_checks(target, cfg, metrics)
    return metrics, checks, headlines


def _ci(cfg: SfnetConfig, statistic, *arrays) -> dict:
    """`checks.bootstrap_ci` over validation galaxies with the sfnet group's draws and seed."""
    return ck.bootstrap_ci(statistic, *arrays, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)


def _rmse_minus(y, a, b):
    return rmse(y, a) - rmse(y, b)


def _rmse_ratio(y, a, b):
    return rmse(y, a) / rmse(y, b)


def accuracy_vs_dense(cfg: SfnetConfig, table, dense_table) -> dict:
    """The SFNet (k = train.k) against its dense twin and against the training mean, on the same
    validation galaxies: RMSEs (dex) and paired bootstrap CIs of the differences and the ratio."""
    val = table["validation"]
    frame = pd.DataFrame({"objID": table["objID"][val]})
    y, p_sfnet = table["targets"][val], table["predictions"][val]
    p_dense = aligned(dense_table, frame, "predictions")
    train_mean = table["targets"][table["train"]].mean(axis=0)
    return {
        "max_active_per_galaxy": int((table["features"][val] != 0).sum(axis=1).max()) if val.any() else None,  # k
        "n_validation": int(val.sum()),
        "sfnet_rmse": _ci(cfg, rmse, y, p_sfnet), "dense_rmse": _ci(cfg, rmse, y, p_dense),
        "train_mean_rmse": rmse(y, np.broadcast_to(train_mean, y.shape)),
        "sfnet_minus_mean": minus_mean(cfg, y, p_sfnet, train_mean),
        "dense_minus_mean": minus_mean(cfg, y, p_dense, train_mean),
        "sfnet_minus_dense": _ci(cfg, _rmse_minus, y, p_sfnet, p_dense),
        "sfnet_over_dense": _ci(cfg, _rmse_ratio, y, p_sfnet, p_dense),
    }


def feature_checks(target: str, cfg: SfnetConfig, metrics: dict) -> tuple[dict, dict]:
    """Checks and headlines of one target's feature study (names prefixed by the target)."""
    c, h = accuracy_checks(target, cfg, metrics["accuracy"])
    for part in (ridge_checks(target, cfg, metrics["ridge_r2_from_dense"], metrics.get("ridge_r2_from_zoobot"),
                              metrics.get("zoobot_morphology")),
                 agn_checks(target, cfg, metrics["svm_agn"]) if metrics.get("svm_agn") else ({}, {})):
        c.update(part[0])
        h.update(part[1])
    return c, h


def accuracy_checks(target: str, cfg: SfnetConfig, acc: dict) -> tuple[dict, dict]:
    """The SFNet and its twin beat the training mean (validity); the SFNet matches the twin (claim)."""
    c, h = {}, {}
    n = acc["n_validation"]
    for who in ("sfnet", "dense"):
        c[f"{target}_{who}_beats_mean"] = beats_mean_check(who, acc[f"{who}_minus_mean"])
    c[f"{target}_sfnet_matches_dense"] = ck.at_most(
        _upper(acc["sfnet_over_dense"]), 1 + cfg.dense_tolerance,
        f"upper 95 % bound of SFNet RMSE / dense twin RMSE over {n} validation galaxies is at most "
        f"1 + sfnet.dense_tolerance: sparsity costs no accuracy")
    h[f"{target}_sfnet_rmse"] = ck.headline(
        f"An SFNet predicts {target} from a few image features as accurately as a dense CNN.",
        PAPER_SFNET[target], acc["sfnet_rmse"]["estimate"], "dex",
        [f"{target}_sfnet_beats_mean", f"{target}_dense_beats_mean", f"{target}_sfnet_matches_dense"],
        acc["sfnet_rmse"]["low"], acc["sfnet_rmse"]["high"])
    return c, h


def ridge_checks(target: str, cfg: SfnetConfig, ridge: dict, zoobot: dict | None = None,
                 votes: dict | None = None) -> tuple[dict, dict]:
    """Each top SFNet feature is largely not in the dense features (claim). The paper's headline
    (Zoobot's features) is read from the Zoobot analogue's ridge `zoobot` ({name: {"r2": CI, ...}},
    `ridge_from_zoobot`), valid when it learned morphology (`votes`: its summary); without it, from
    the twin's, with a failed validity check saying the twin is not a morphology network."""
    c, h = {}, {}
    if zoobot is not None:
        c1, h1 = _zoobot_ridge_checks(target, cfg, zoobot, votes)
        for rank, (name, r) in enumerate(ridge.items(), start=1):
            c1[f"{target}_ridge_r2_rank{rank}_low"] = _ridge_low(cfg, r, name, "the twin's")
        return c1, h1
    if ridge:
        c[f"{target}_ridge_features_from_morphology_model"] = _morphology_source_check()
    for rank, (name, r) in enumerate(ridge.items(), start=1):
        c[f"{target}_ridge_r2_rank{rank}_low"] = _ridge_low(cfg, r, name, "the dense")
        if target == "metallicity" and rank <= len(PAPER_RIDGE_R2):
            h[f"metallicity_ridge_r2_rank{rank}"] = ck.headline(
                f"Zoobot's features explain little of the SFNet's rank-{rank} metallicity feature (ridge R²).",
                f"R² {PAPER_RIDGE_R2[rank - 1]} (Z61, Z256 from Zoobot's 512 features)", r["estimate"], "R²",
                [f"{target}_ridge_features_from_morphology_model", f"{target}_ridge_r2_rank{rank}_low"],
                r["low"], r["high"])
    return c, h


def _ridge_low(cfg: SfnetConfig, r: dict, name: str, source: str) -> dict:
    return ck.check(
        _upper(r) is not None and _upper(r) < cfg.ridge_low_r2, _upper(r), cfg.ridge_low_r2,
        f"upper 95 % bound of the validation R² (bootstrap over {r['n']} galaxies) of a ridge from {source} "
        f"features to SFNet feature {name} is below sfnet.ridge_low_r2: the SFNet feature is largely not in them")


def _zoobot_ridge_checks(target: str, cfg: SfnetConfig, zoobot: dict, votes: dict) -> tuple[dict, dict]:
    """The Zoobot analogue learned morphology (validity); each top SFNet feature is largely not in its
    features (claim, `<target>_ridge_zoobot_r2_rank<r>_low`); headlines `metallicity_ridge_r2_rank<r>`."""
    c, h = {f"{target}_zoobot_learned_morphology": morphology_check(votes)}, {}
    for rank, (name, r) in enumerate(zoobot.items(), start=1):
        name_low = f"{target}_ridge_zoobot_r2_rank{rank}_low"
        c[name_low] = _ridge_low(cfg, r["r2"], name, "the Zoobot analogue's")
        if target == "metallicity" and rank <= len(PAPER_RIDGE_R2):
            h[f"metallicity_ridge_r2_rank{rank}"] = ck.headline(
                f"Zoobot's features explain little of the SFNet's rank-{rank} metallicity feature (ridge R²).",
                f"R² {PAPER_RIDGE_R2[rank - 1]} (Z61, Z256 from Zoobot's 512 features)", r["r2"]["estimate"], "R²",
                [f"{target}_zoobot_learned_morphology", name_low], r["r2"]["low"], r["r2"]["high"])
    return c, h


def agn_checks(target: str, cfg: SfnetConfig, svm: dict) -> tuple[dict, dict]:
    """The AGN SVM (top m and all active features) beats the majority class, CI clear of it (claim).
    With the truth: the same SVM fed the true host properties must beat it too (validity: else this
    universe's AGN cannot be told from their hosts, and no image feature could)."""
    c, h = {}, {}
    validity = []
    host = svm.get("host_truth")
    if host is not None and host["accuracy"] is not None:
        validity = [f"{target}_agn_host_truth_beats_majority"]
        c[validity[0]] = _gain_above_zero(
            host["accuracy_minus_majority"], f"the same SVM fed the hosts' true {', '.join(host['columns'])} beats the "
            "majority class (lower 95 % bound of the accuracy gain above 0): the universe's AGN can be told from "
            "their hosts at all", "validity")
    for kind in ("top", "all_active"):
        name = f"top{cfg.top_m}" if kind == "top" else "all_active"
        scores = svm[name]
        if scores is None or scores["accuracy"] is None:
            continue
        gain = scores["accuracy_minus_majority"]
        check_name = f"{target}_agn_svm_{name}_beats_majority"
        c[check_name] = _gain_above_zero(
            gain, f"lower 95 % bound of the SVM's validation accuracy minus always answering the training majority "
            f"class (paired bootstrap over {scores['n_validation']} galaxies) is above 0")
        for score in ("accuracy", "f1"):
            paper = PAPER_AGN[kind][score] if kind == "all_active" or cfg.top_m == 4 else "not in the paper (top_m != 4)"
            h[f"{target}_agn_svm_{name}_{score}"] = ck.headline(
                f"A linear SVM on the line SFNet's {'four most frequent' if kind == 'top' else 'non-zero'} features "
                "classifies AGN (Kauffmann 2003 line) from the image.", paper, scores[score], score,
                [*validity, check_name], scores[f"{score}_ci"]["low"], scores[f"{score}_ci"]["high"])
    return c, h


def _gain_above_zero(gain: dict, meaning: str, kind: str = "claim") -> dict:
    return ck.check(gain["low"] is not None and gain["low"] > 0, gain["low"], 0.0, meaning, kind)


def _upper(ci):
    return None if ci is None else ci["high"]


def _morphology_source_check() -> dict:
    return ck.check(DENSE_SOURCE == "galaxy_zoo", 0.0, 1.0,
                    f"the dense features come from a network trained on Galaxy Zoo votes, as Zoobot (here: the "
                    f"{DENSE_SOURCE}, the SFNet's own warm start, so this comparison is not the paper's)", "validity")


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


def _ridge_to_top(cfg: SfnetConfig, table, dense_table, top):
    """Validation values of the top SFNet features and a ridge's predictions of them from the 512
    features of `dense_table` (fitted on the training galaxies, matched on objID)."""
    frames = {s: pd.DataFrame({"objID": table["objID"][table[s]]}) for s in ("train", "validation")}
    x = {s: aligned(dense_table, f) for s, f in frames.items()}
    y = {s: table["features"][table[s]][:, top] for s in frames}
    return y["validation"], sf.ridge_predict(x["train"], y["train"], x["validation"], cfg.ridge_alpha)


def ridge_from_dense(cfg: SfnetConfig, table, dense_table, top, names) -> dict:
    """Validation R² (with a bootstrap CI over validation galaxies) of ridge regressions predicting
    each top SFNet feature from the dense twin's 512 features, fitted on the training galaxies."""
    if not len(top):
        return {}
    y, pred = _ridge_to_top(cfg, table, dense_table, top)
    return {n: _ci(cfg, sf.r2, y[:, i], pred[:, i]) for i, n in enumerate(names)}


def _r2_minus(y, a, b):
    ra, rb = sf.r2(y, a), sf.r2(y, b)
    return None if ra is None or rb is None else ra - rb


def ridge_from_zoobot(cfg: SfnetConfig, table, twin_table, zoobot_table, top, names) -> dict:
    """Per top SFNet feature: validation R² (bootstrap CI) of a ridge from the Zoobot analogue's 512
    features (the paper's 0.253 / 0.107), and the paired bootstrap CI of the twin's R² minus it
    (same galaxies, same draws)."""
    if not len(top):
        return {}
    y, p_zoo = _ridge_to_top(cfg, table, zoobot_table, top)
    _, p_twin = _ridge_to_top(cfg, table, twin_table, top)
    return {n: {"r2": _ci(cfg, sf.r2, y[:, i], p_zoo[:, i]),
                "twin_minus_zoobot": _ci(cfg, _r2_minus, y[:, i], p_twin[:, i], p_zoo[:, i])}
            for i, n in enumerate(names)}


def svm_agn(cfg: SfnetConfig, table, truth: pd.DataFrame | None = None) -> dict:
    """Linear SVM AGN classification from the line SFNet's most frequent top-m vs all its active
    features: validation accuracy, F1 and the majority-class accuracy, with paired bootstrap CIs.
    With the truth (simulated data), also the same SVM fed the hosts' true AGN_HOST properties:
    the accuracy this universe allows a classifier that sees the host perfectly, and each feature
    set's accuracy minus it (paired)."""
    columns = table["columns"].tolist()
    lines = [columns.index(c) for c in LINES]
    train, val = table["train"], table["validation"]
    agn = agn_labels(*table["targets"][:, lines].T)
    scale = sf.activation_scale(table["features"][train])  # the SVM sees only what training allows
    acts = sf.scale_activations(table["features"], scale)
    chosen = {f"top{cfg.top_m}": sf.top_features(table["features"][train], cfg.top_m),
              "all_active": sf.top_features(table["features"][train])}
    majority = np.full(int(val.sum()), agn[train].mean() > 0.5)
    host = _host_guess(cfg, table, truth, agn) if truth is not None else None
    scores = {}
    for name, cols in chosen.items():
        if not len(cols):
            scores[name] = None
            continue
        guess = sf.svm_agn_predict(acts[train][:, cols], agn[train], acts[val][:, cols], cfg.svm_c, cfg.seed)
        scores[name] = _agn_scores(cfg, agn[val], guess, majority, len(cols))
        if guess is not None and host is not None:
            scores[name]["accuracy_minus_host_truth"] = _ci(cfg, _accuracy_minus, agn[val], guess, host)
    if host is not None:
        scores["host_truth"] = {**_agn_scores(cfg, agn[val], host, majority, len(AGN_HOST)), "columns": list(AGN_HOST)}
    scores["agn_fraction_validation"] = float(agn[val].mean())
    return scores


def _accuracy_minus(truth, a, b):
    return sf.accuracy(truth, a) - sf.accuracy(truth, b)


def _agn_scores(cfg: SfnetConfig, truth, guess, majority, n_features) -> dict:
    """Accuracy, F1 and the gain over the majority class with paired bootstrap CIs (None without a guess)."""
    scores = {"accuracy": None, "f1": None, "majority_accuracy": None, "n_features": n_features,
              "n_validation": len(truth)}
    if guess is None:  # a single class among the training galaxies: nothing to fit
        return scores
    scores.update(
        accuracy=sf.accuracy(truth, guess), f1=sf.f1(truth, guess), majority_accuracy=sf.accuracy(truth, majority),
        accuracy_ci=_ci(cfg, sf.accuracy, truth, guess), f1_ci=_ci(cfg, sf.f1, truth, guess),
        accuracy_minus_majority=_ci(cfg, _accuracy_minus, truth, guess, majority))
    return scores


def _host_guess(cfg: SfnetConfig, table, truth: pd.DataFrame, agn):
    """Validation guesses of the AGN SVM fed the true host properties (standardised on training)."""
    host = truth.set_index("objID").reindex(np.asarray(table["objID"], str))[list(AGN_HOST)].to_numpy(float)
    train, val = table["train"], table["validation"]
    if not np.isfinite(host[train | val]).all():
        raise InputError(f"the truth table (data.truth) lacks a value of {list(AGN_HOST)} for some SFNet line galaxies")
    mean, std = host[train].mean(0), host[train].std(0)
    x = (host - mean) / np.where(std > 0, std, 1.0)
    return sf.svm_agn_predict(x[train], agn[train], x[val], cfg.svm_c, cfg.seed)


def save_figure_inputs(path, fig, n_top_galaxies) -> None:
    """What the figures stage needs to draw the BPT panels: validation activations and ids, the
    top features and the prepared rows of their top-activating galaxies (-1 pads short lists)."""
    top_rows = np.full((len(fig["top"]), n_top_galaxies), -1, dtype=np.int64)
    for i, j in enumerate(fig["top"]):
        top_rows[i, :len(fig["top_rows"][j])] = fig["top_rows"][j]
    np.savez(path, acts=fig["acts"], scale=fig["scale"], freq=fig["freq"], top=np.asarray(fig["top"]),
             top_rows=top_rows, objID=np.asarray(fig["objID"]).astype(str))


# ----------------------------------------------------------------------------- sfnet_compare

def compare_target(cfg: SfnetConfig, target: str, images, catalog: pd.DataFrame, dense: ModelFolder,
                   truth: pd.DataFrame | None = None, zoobot: SfnetZoobot | None = None):
    """Dense baselines, then the SFNet sweep over k, for one target: (metrics, checks, headlines, runs,
    figure curve). `truth`: the truth table's objID and EXPLAIN columns, or None (real data).
    `zoobot`: the Zoobot analogue's folder (stage sfnet_zoobot); its rows carry the paper's Zoobot
    claims (None: only the twin's rows, with a failed validity check saying so)."""
    base = dense_baselines(cfg, dense)
    zoo = None if zoobot is None else zoobot_baselines(cfg, target, zoobot, base)
    log.info("%s: dense %.4f, PCA %s, linear %s, XGBoost %s, memorised (ridge CV) %.4f", target,
             rmse(base["y"], base["dense_pred"]), {k: _rmse_or_none(base["y"], p) for k, p in base["pca_pred"].items()},
             base["linear"], base["xgboost"], base["memorisation"]["ridge_cv"]["rmse"])
    sweep, preds, runs = sfnet_sweep(cfg, target, images, catalog, dense, order=base["objID"])
    metrics = {"dense_rmse": rmse(base["y"], base["dense_pred"]), "k_table": k_table(cfg, sweep, preds, base, zoo),
               "linear": base["linear"], "xgboost": base["xgboost"], "memorisation": base["memorisation"],
               "n_train": base["n_train"], "n_validation": base["n_validation"]}
    if zoo is not None:
        metrics["zoobot"], metrics["sources"] = zoo["metrics"], SOURCES
    if truth is not None:
        metrics["pca_components"] = explain_components(base["pcs"], base["pca_ratio"], base["objID"], base["y"],
                                                       base["columns"], truth, cfg.pca_explain_components)
    rows = metrics["k_table"].values()
    curve = {"k": [r["k"] for r in rows], "sfnet_mean": [r["sfnet"] for r in rows],
             "sfnet_sem": [r["sfnet_sem"] for r in rows], "pca": [r["pca"] for r in rows], "dense": metrics["dense_rmse"]}
    if zoo is not None:
        curve["zoobot_pca"] = [r["zoobot_pca"] for r in rows]
    checks, headlines = compare_checks(target, cfg, metrics, sweep, preds, base, zoo)
    return metrics, checks, headlines, runs, curve


def _rmse_or_none(y, pred):
    return None if pred is None else rmse(y, pred)


def sfnet_sweep(cfg: SfnetConfig, target: str, images, catalog: pd.DataFrame, dense: ModelFolder, order=None):
    """Every k and repeat: validation RMSE (dex) {k: [rmse per repeat]}, validation predictions
    {k: [n_val, repeats, n_out]} (rows in the objID `order` when given, else the sample's), run logs."""
    train, val = target_sample(catalog, target)
    columns = SFNET_TARGETS[target][1]
    scaler = Standardiser.fit(train[columns], cfg.standardise)
    table = load_feature_table(dense.need("features"))
    dense_path = dense.need("model")
    rows = np.arange(len(val)) if order is None else pd.Index(val["objID"].astype(str)).get_indexer(np.asarray(order, str))
    if (rows < 0).any():
        raise StaleOutputError(f"{(rows < 0).sum()} validation galaxies of the dense twin are not in the {target} sample; rerun sfnet_dense")
    results, preds, runs = {}, {}, []
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
            preds.setdefault(k, []).append(np.asarray(p_val, float).reshape(len(val), -1)[rows])
            runs.append({"target": target, "k": k, "repeat": repeat, "val_rmse": total,
                         "val_rmse_per_output": dict(zip(columns, rmse_per_output(y_val, p_val))),
                         "seconds": time.perf_counter() - start})
            log.info("%s: SFNet k=%d repeat %d validation RMSE %.4f dex (%.0f s)", target, k, repeat, total,
                     runs[-1]["seconds"])
    return results, {k: np.stack(p, axis=1) for k, p in preds.items()}, runs


def dense_baselines(cfg: SfnetConfig, dense: ModelFolder) -> dict:
    """Dense CNN, its top-k PCA + linear regression, linear regression and XGBoost on all 512 features,
    and the memorisation fits (on the validation galaxies themselves): RMSEs and validation predictions."""
    table = load_feature_table(dense.need("features"))
    train, val = table["train"], table["validation"]
    x_train, x_val = table["features"][train], table["features"][val]
    y_train, y_val = table["targets"][train], table["targets"][val]
    # One single-output booster per line (xgboost's joint multi-output trees were ~20x slower here),
    # one thread (more only contend on this 2-core machine).
    xgb = dict(cfg.xgboost, random_state=cfg.seed, n_jobs=1)
    pca_pred, pcs, ratio = sf.pca_topk(x_train, y_train, x_val, cfg.k_list, at_least=cfg.pca_explain_components)
    ols, _ = sf.memorise(x_val, y_val)
    ridge, ridge_pred = sf.memorise(x_val, y_val, cfg.memorise_alphas)
    return {
        "y": y_val, "objID": table["objID"][val], "columns": table["columns"].tolist(),
        "dense_pred": table["predictions"][val], "pca_pred": pca_pred, "pcs": pcs, "pca_ratio": ratio,
        "pca": {k: _rmse_or_none(y_val, p) for k, p in pca_pred.items()},
        "linear": sf.fit_and_memorise(LinearRegression, x_train, y_train, x_val, y_val),
        "xgboost": sf.fit_and_memorise(lambda: MultiOutputRegressor(XGBRegressor(**xgb)), x_train, y_train, x_val, y_val),
        "memorisation": {"linear": ols, "ridge_cv": dict(ridge, rmse_ci=_ci(cfg, rmse, y_val, ridge_pred))},
        "memorised_pred": ridge_pred, "train_mean": y_train.mean(axis=0),
        "n_train": int(train.sum()), "n_validation": int(val.sum()),
    }


def zoobot_baselines(cfg: SfnetConfig, target: str, zoobot: SfnetZoobot, base: dict) -> dict:
    """The Zoobot analogue's 512 features of the same galaxies as the twin rows (validation galaxies in
    `base`'s order): linear regression fitted on train, the memorisation fits (ordinary least squares
    on the validation galaxies, which interpolates with more features than galaxies; ridge with
    leave-one-out CV on train + validation, scored on the validation galaxies, with galaxies per
    effective parameter), XGBoost fitted on train and on validation, and PCA
    top-k + linear regression for every k of sfnet.k_list. Returns {"metrics", and predictions}."""
    table = load_feature_table(zoobot.need(f"features_{target}"))
    order = pd.DataFrame({"objID": np.asarray(base["objID"], str)})
    x_val, y_val = aligned(table, order), aligned(table, order, "targets")
    if not np.allclose(y_val, base["y"]):
        raise StaleOutputError(f"{zoobot.dir}: the Zoobot analogue's {target} targets differ from the twin's; "
                               "rerun sfnet_zoobot and sfnet_dense on the same prepared data")
    train = table["train"]
    x_train, y_train = table["features"][train], table["targets"][train]
    xgb = lambda: MultiOutputRegressor(XGBRegressor(**dict(cfg.xgboost, random_state=cfg.seed, n_jobs=1)))  # noqa: E731
    pca_pred, _, ratio = sf.pca_topk(x_train, y_train, x_val, cfg.k_list)
    linear = LinearRegression().fit(x_train, y_train).predict(x_val).reshape(y_val.shape)
    boosted = xgb().fit(x_train, y_train).predict(x_val).reshape(y_val.shape)
    boosted_memorised = xgb().fit(x_val, y_val).predict(x_val).reshape(y_val.shape)
    ols, _ = sf.memorise(x_val, y_val)
    # The analogue never saw the target, so the memorisation fit may use every galaxy of the sample
    # (train + validation: about 3x the 512 features), scored on the validation galaxies it was fitted
    # to; on the validation galaxies alone (fewer than the features) it could not fail.
    ridge, all_pred = sf.memorise(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]),
                                  cfg.memorise_alphas)
    ridge_pred = all_pred[len(x_train):]
    ridge.update(fitted_on="train + validation", rmse_validation=rmse(y_val, ridge_pred))
    # The in-sample RMSE understates the best linear fit's residual by sqrt(1 - df / n) (df = effective parameters).
    n_fit, df = ridge["n_galaxies"], ridge["effective_parameters"]
    ridge["rmse_dof_corrected"] = ridge["rmse"] * float(np.sqrt(n_fit / (n_fit - df))) if n_fit > df else None
    metrics = {
        "source": SOURCES["zoobot"], "morphology": zoobot.read_json("summary")["votes"],
        "linear": {"fit_on_train": _ci(cfg, rmse, y_val, linear), "fit_on_validation": ols["rmse"]},
        "xgboost": {"fit_on_train": _ci(cfg, rmse, y_val, boosted), "fit_on_validation": rmse(y_val, boosted_memorised)},
        "memorisation": {"linear": ols, "ridge_cv": dict(ridge, rmse_ci=_ci(cfg, rmse, y_val, ridge_pred))},
        "pca": {f"k{k}": _rmse_or_none(y_val, p) for k, p in pca_pred.items()},
        "pca_explained_variance_ratio": [float(r) for r in ratio],
        "train_mean_rmse": rmse(y_val, np.broadcast_to(y_train.mean(axis=0), y_val.shape)),  # the bar to beat
        "n_train": int(train.sum()), "n_validation": len(y_val),
    }
    return {"metrics": metrics, "pca_pred": pca_pred, "linear_pred": linear, "xgboost_pred": boosted,
            "memorised_pred": ridge_pred}


def _mean_rmse_minus(y, runs, other):
    """Mean over repeats of the SFNet's RMSE, minus `other`'s (runs: [n, repeats, n_out])."""
    return float(np.mean([rmse(y, runs[:, r]) for r in range(runs.shape[1])])) - rmse(y, other)


def k_table(cfg: SfnetConfig, sweep: dict, preds: dict, base: dict, zoo: dict | None = None) -> dict:
    """Per k: SFNet mean, standard error over repeats (0 with one repeat) and every run; PCA of the
    twin's features; the paired bootstrap CIs (over validation galaxies) of SFNet minus PCA and SFNet
    minus the dense twin and minus predicting the training mean (`sfnet_minus_mean`: did it learn); with `zoo` (zoobot_baselines) also PCA of the Zoobot analogue's features
    (`zoobot_pca`) and SFNet minus it (`sfnet_minus_zoobot_pca`)."""
    table = {}
    y = base["y"]
    mean = np.broadcast_to(base["train_mean"], y.shape)
    for k, values in sweep.items():
        values = np.asarray(values)
        sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
        pca = base["pca_pred"][k]
        table[f"k{k}"] = {"k": k, "sfnet": float(values.mean()), "sfnet_sem": sem, "sfnet_runs": values.tolist(),
                          "pca": base["pca"][k], "n_validation": len(y),
                          "sfnet_minus_pca": None if pca is None else _ci(cfg, _mean_rmse_minus, y, preds[k], pca),
                          "sfnet_minus_dense": _ci(cfg, _mean_rmse_minus, y, preds[k], base["dense_pred"]),
                          "sfnet_minus_mean": _ci(cfg, _mean_rmse_minus, y, preds[k], mean)}
        if zoo is not None:
            zp = zoo["pca_pred"][k]
            table[f"k{k}"].update(zoobot_pca=_rmse_or_none(y, zp), sfnet_minus_zoobot_pca=None if zp is None else
                                  _ci(cfg, _mean_rmse_minus, y, preds[k], zp))
    return table


def _minus_sfnet(y, m, runs):
    """RMSE of `m` minus the SFNet's mean RMSE over repeats (runs: [n, repeats, n_out])."""
    return rmse(y, m) - float(np.mean([rmse(y, runs[:, r]) for r in range(runs.shape[1])]))


def compare_checks(target: str, cfg: SfnetConfig, metrics: dict, sweep: dict, preds: dict, base: dict,
                   zoo: dict | None = None):
    """Checks and headlines of one target's comparison (names prefixed by the target). With `zoo`, the
    Zoobot claims (memorisation headline, PCA of Zoobot features) are read from the Zoobot analogue."""
    c, h = pca_checks(target, metrics["k_table"])
    best = min(sweep, key=lambda k: np.mean(sweep[k]))
    gap = _ci(cfg, _minus_sfnet, base["y"], base["memorised_pred"], preds[best])
    metrics["memorised_minus_best_sfnet"] = dict(gap, k=best)
    more_c, more_h = memorisation_checks(target, cfg, metrics["memorisation"], metrics["memorised_minus_best_sfnet"],
                                         zoobot_rows=zoo is not None)
    c, h = {**c, **more_c}, {**h, **more_h}
    if zoo is not None:
        z = metrics["zoobot"]
        for name in ("linear", "xgboost", "memorised"):
            z[f"{name}_minus_best_sfnet"] = dict(_ci(cfg, _minus_sfnet, base["y"], zoo[f"{name}_pred"], preds[best]),
                                                 k=best)
        more_c, more_h = zoobot_checks(target, cfg, z, metrics["k_table"])
        c, h = {**c, **more_c}, {**h, **more_h}
    return c, h


def zoobot_checks(target: str, cfg: SfnetConfig, z: dict, k_table_: dict) -> tuple[dict, dict]:
    """The paper's Zoobot claims on the Zoobot analogue's features (`z`: metrics["zoobot"] with its
    `*_minus_best_sfnet` CIs). Validity: it learned morphology; its ridge memorisation fit had at least
    sfnet.memorise_min_galaxies_per_parameter galaxies per effective parameter. Claims: linear (fit on
    train), XGBoost (fit on train) and the memorisation fit all stay worse than the best SFNet; per k,
    the SFNet beats PCA top-k of its features. Headlines beside seed 003's numbers."""
    learned, well_posed = f"{target}_zoobot_learned_morphology", f"{target}_zoobot_memorisation_well_posed"
    mem = z["memorisation"]["ridge_cv"]
    c = {learned: morphology_check(z["morphology"]),
         well_posed: ck.at_least(
             mem["galaxies_per_parameter"], cfg.memorise_min_galaxies_per_parameter,
             f"the memorisation fit on the Zoobot analogue's features (ridge on {mem['n_galaxies']} train + validation galaxies, "
             f"{mem['n_features']} features, alpha {mem['alpha']} by leave-one-out CV: {mem['effective_parameters']:.1f} "
             "effective parameters) had at least sfnet.memorise_min_galaxies_per_parameter galaxies per effective "
             "parameter, so it could fail", "validity")}
    h = {}
    what = {"linear": "a linear regression fitted on the training galaxies",
            "xgboost": "XGBoost fitted on the training galaxies",
            "memorised": "the memorisation fit (ridge fitted on the validation galaxies themselves)"}
    for name, text in what.items():
        gap = z[f"{name}_minus_best_sfnet"]
        c[f"{target}_zoobot_{name}_worse_than_sfnet"] = ck.check(
            gap["low"] is not None and gap["low"] > 0, gap["low"], 0.0,
            f"lower 95 % bound of the RMSE of {text} on the Zoobot analogue's features minus the best SFNet's "
            f"(k = {gap['k']}; paired bootstrap over {gap['n']} validation galaxies) is above 0")
    for row in k_table_.values():
        name = f"{target}_sfnet_beats_zoobot_pca_k{row['k']}"
        c[name], h[f"{target}_sfnet_minus_zoobot_pca_k{row['k']}"] = sfnet_minus_pca(
            target, row, "sfnet_minus_zoobot_pca", "a morphology CNN's (here: the Zoobot analogue's)",
            [learned, learned_check(target, row)[0], name])
    if target == "metallicity":
        mem_ci, lin, boost = mem["rmse_ci"], z["linear"]["fit_on_train"], z["xgboost"]["fit_on_train"]
        h["metallicity_linear_memorisation"] = ck.headline(
            "No linear combination of a morphology CNN's (Zoobot's) 512 features reconstructs metallicity, "
            "even fitted on the validation galaxies themselves.",
            f"{PAPER_ZOOBOT['memorisation']} dex (Zoobot, fit on validation; SFNet 0.086)", mem_ci["estimate"], "dex",
            [learned, well_posed, f"{target}_zoobot_memorised_worse_than_sfnet"], mem_ci["low"], mem_ci["high"])
        h["metallicity_zoobot_linear_fit_on_train"] = ck.headline(
            "A linear model on Zoobot's features, fitted on the training galaxies, predicts metallicity poorly.",
            f"{PAPER_ZOOBOT['linear_fit_on_train']} dex (SFNet 0.086)", lin["estimate"], "dex",
            [learned, f"{target}_zoobot_linear_worse_than_sfnet"], lin["low"], lin["high"])
        h["metallicity_zoobot_xgboost_fit_on_train"] = ck.headline(
            "XGBoost on Zoobot's features, fitted on the training galaxies, predicts metallicity poorly.",
            f"{PAPER_ZOOBOT['xgboost_fit_on_train']} dex (fit on validation {PAPER_ZOOBOT['xgboost_fit_on_validation']};"
            " SFNet 0.086)", boost["estimate"], "dex",
            [learned, f"{target}_zoobot_xgboost_worse_than_sfnet"], boost["low"], boost["high"])
    return c, h


def learned_check(target: str, row: dict) -> tuple[str, dict]:
    """Validity of one k of the sweep: the SFNet beats predicting the training mean (upper bound of
    the paired RMSE difference below 0); a sweep SFNet stuck at the mean says nothing about k."""
    k, diff = row["k"], row["sfnet_minus_mean"]
    return f"{target}_sfnet_k{k}_learned", ck.check(
        diff["high"] is not None and diff["high"] < 0, diff["high"], 0.0,
        f"upper 95 % bound of the SFNet's (k = {k}) validation RMSE minus predicting the training mean "
        f"(paired bootstrap over {row['n_validation']} galaxies) is below 0: it learned the target", "validity")


def pca_checks(target: str, k_table_: dict) -> tuple[dict, dict]:
    """Per k: the SFNet learned (validity) and beats PCA top-k, the CI of the paired difference below 0 (claim)."""
    c, h = {}, {}
    for row in k_table_.values():
        learned, c[learned] = learned_check(target, row)
        name = f"{target}_sfnet_beats_pca_k{row['k']}"
        c[name], h[f"{target}_sfnet_minus_pca_k{row['k']}"] = sfnet_minus_pca(
            target, row, "sfnet_minus_pca", "a dense CNN's (here: the twin's, trained on the target itself)",
            [learned, name])
    return c, h


def sfnet_minus_pca(target: str, row: dict, key: str, network: str, checks: list) -> tuple[dict, dict]:
    """Claim check and headline of one k: the SFNet's RMSE minus that of a linear fit on PCA top-k of
    `network`'s features (row[key], a paired CI) is below 0; the headline beside seed 003's table."""
    k, diff = row["k"], row.get(key)
    check = ck.check(diff is not None and diff["high"] is not None and diff["high"] < 0, _upper(diff), 0.0,
                     f"upper 95 % bound of SFNet (k = {k}, mean of {len(row['sfnet_runs'])} runs) minus PCA top-{k} "
                     f"of {network} features + linear regression, RMSE (dex, paired bootstrap over "
                     f"{row['n_validation']} validation galaxies) is below 0")
    paper = PAPER_TABLE[target].get(k)
    head = ck.headline(
        f"With k = {k}, the SFNet's {target} RMSE is lower than a linear fit on the top-{k} principal components "
        f"of {network} features.",
        (f"SFNet {paper[0]} vs PCA {paper[1]} dex (difference {paper[0] - paper[1]:+.4f})" if paper
         else f"k = {k} not in the paper's table"), None if diff is None else diff["estimate"], "dex",
        checks, None if diff is None else diff["low"], None if diff is None else diff["high"])
    return check, head


def memorisation_checks(target: str, cfg: SfnetConfig, memorisation: dict, gap: dict,
                        zoobot_rows: bool = False) -> tuple[dict, dict]:
    """The twin's memorisation fits could fail (validity: galaxies per effective parameter, for the
    ridge-CV fit and for the ordinary least squares one); the memorised fit stays worse than the best
    SFNet (`gap`: CI of memorised minus SFNet RMSE, with its k; claim). Without `zoobot_rows` the
    Zoobot headline is read from the twin, with a failed validity check saying the twin is not a
    morphology network; with them (zoobot_checks) the twin's checks stand alone."""
    c, h = {}, {}
    mem, n = memorisation["ridge_cv"], memorisation["ridge_cv"]["n_galaxies"]
    c[f"{target}_memorisation_well_posed"] = ck.at_least(
        mem["galaxies_per_parameter"], cfg.memorise_min_galaxies_per_parameter,
        f"the memorisation fit (ridge, alpha {mem['alpha']} by leave-one-out CV) had at least "
        "sfnet.memorise_min_galaxies_per_parameter validation galaxies per effective parameter, so it could fail",
        "validity")
    ols = memorisation["linear"]
    c[f"{target}_linear_memorisation_well_posed"] = ck.at_least(
        ols["galaxies_per_parameter"], cfg.memorise_min_galaxies_per_parameter,
        f"the ordinary least-squares fit on the validation set ({ols['n_galaxies']} galaxies, {ols['n_features']} "
        "features; `linear.fit_on_validation`) had enough galaxies per parameter not to interpolate", "validity")
    if not zoobot_rows:
        c[f"{target}_dense_features_from_morphology_model"] = _morphology_source_check()
    best = gap["k"]
    c[f"{target}_memorisation_worse_than_sfnet"] = ck.check(
        gap["low"] is not None and gap["low"] > 0, gap["low"], 0.0,
        f"lower 95 % bound of the memorised linear RMSE minus the best SFNet's (k = {best}) over {n} validation "
        "galaxies is above 0: no linear combination of the dense features reaches the SFNet even on the galaxies it was fitted to")
    if target == "metallicity" and not zoobot_rows:
        h["metallicity_linear_memorisation"] = ck.headline(
            "No linear combination of a morphology CNN's (Zoobot's) 512 features reconstructs metallicity, "
            "even fitted on the validation galaxies themselves.", "0.181 dex (Zoobot, fit on validation; SFNet 0.086)",
            mem["rmse"], "dex", [f"{target}_memorisation_well_posed", f"{target}_dense_features_from_morphology_model",
                                 f"{target}_memorisation_worse_than_sfnet"],
            mem["rmse_ci"]["low"], mem["rmse_ci"]["high"])
    return c, h


def explain_components(pcs, ratio, objID, y, columns, truth: pd.DataFrame, n: int) -> dict:
    """What the leading principal components of the dense features encode, on the validation galaxies:
    their explained variance, Pearson r with the target(s) and with the truth's EXPLAIN columns, and
    the truth column each tracks best; also the target's own r with those truths (e.g. mass-metallicity)."""
    t = truth.set_index("objID").reindex(np.asarray(objID, str))
    y = np.asarray(y, float).reshape(len(y), -1)
    out = {"n_validation": len(y), "truth_columns": list(EXPLAIN),
           "target_r_with_truth": {col: {c: pearson_r(y[:, i], t[c]) for c in EXPLAIN} for i, col in enumerate(columns)}}
    for j in range(min(n, pcs.shape[1])):
        r_truth = {c: pearson_r(pcs[:, j], t[c]) for c in EXPLAIN}
        defined = {c: r for c, r in r_truth.items() if r is not None}
        out[f"PC{j + 1}"] = {
            "explained_variance_ratio": float(ratio[j]),
            "r_target": {col: pearson_r(pcs[:, j], y[:, i]) for i, col in enumerate(columns)},
            "r_truth": r_truth, "tracks": max(defined, key=lambda c: abs(defined[c])) if defined else None,
        }
    return out
