"""Stage sfnet_compare: SFNets over sfnet.k_list vs the dense CNN's features (SPEC §4).

For each target in sfnet.compare_targets: SFNets retrained sfnet.repeats times per k; the dense twin's 512 features
reduced to their top-k principal components + linear regression; linear regression and XGBoost
on all dense features, fitted on the training set and (the memorisation check) on the
validation set itself. Every RMSE is on the validation galaxies, in dex.
"""
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # oneDNN convolutions: ~3x faster backprop on this CPU

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.multioutput import MultiOutputRegressor  # noqa: E402
from xgboost import XGBRegressor  # noqa: E402

from galaxy_xai.io import ParamError, atomic_path, get_logger, load_params, write_json  # noqa: E402
from galaxy_xai.models.sfnet_training import (  # noqa: E402
    TARGETS, Standardiser, aligned, centre_crop, features_and_outputs, load_feature_table, rmse_dex, settings,
    target_sample, train_sfnet,
)
from galaxy_xai.models.training import set_seeds  # noqa: E402
from galaxy_xai.xai import sfnet_features as sf  # noqa: E402

log = get_logger("stage.sfnet_compare")
XGB_KEYS = {"n_estimators", "max_depth", "learning_rate", "subsample", "colsample_bytree", "min_child_weight",
            "reg_lambda"}


def sfnet_sweep(cfg, target, images, catalog, dense_root):
    """Validation RMSE (dex) of an SFNet for every k and repeat: {k: [rmse per repeat]}, and run logs."""
    train, val = target_sample(catalog, target)
    columns = TARGETS[target][1]
    scaler = Standardiser.fit(train[columns], cfg["standardise"])
    table = load_feature_table(Path(dense_root) / target / "features.npz")
    dense_path = Path(dense_root) / target / "model.keras"
    results, runs = {}, []
    for k in cfg["k_list"]:
        for repeat in range(cfg["repeats"]):
            start = time.perf_counter()
            keras.backend.clear_session()  # one model in memory at a time
            set_seeds(cfg["seed"] + repeat)
            dense = keras.models.load_model(dense_path, compile=False) if cfg["init"] == "dense" else None
            model, _ = train_sfnet(cfg, k, images, train, val, columns, scaler, dense, aligned(table, train),
                                   seed=cfg["seed"] + repeat)
            _, outputs = features_and_outputs(model, images, val["row"], cfg["batch_size"])
            total, per_output = rmse_dex(val[columns], scaler.inverse(outputs))
            results.setdefault(k, []).append(total)
            runs.append({"target": target, "k": k, "repeat": repeat, "val_rmse": total,
                         "val_rmse_per_output": dict(zip(columns, per_output)),
                         "seconds": time.perf_counter() - start})
            log.info("%s: SFNet k=%d repeat %d validation RMSE %.4f dex (%.0f s)", target, k, repeat, total,
                     runs[-1]["seconds"])
    return results, runs


def dense_baselines(cfg, target, dense_root):
    """Dense CNN, its top-k PCA + linear regression, linear regression and XGBoost on all 512 features."""
    table = load_feature_table(Path(dense_root) / target / "features.npz")
    train, val = table["train"], table["validation"]
    x_train, x_val = table["features"][train], table["features"][val]
    y_train, y_val = table["targets"][train], table["targets"][val]
    # One single-output booster per line (xgboost's joint multi-output trees were ~20x slower here),
    # one thread (more only contend on this 2-core machine).
    xgb = dict(cfg["xgboost"], random_state=cfg["seed"], n_jobs=1)
    return {
        "dense": sf.rmse(y_val, table["predictions"][val]),
        "pca": sf.pca_topk_rmse(x_train, y_train, x_val, y_val, cfg["k_list"]),
        "linear": sf.fit_and_memorise(LinearRegression, x_train, y_train, x_val, y_val),
        "xgboost": sf.fit_and_memorise(lambda: MultiOutputRegressor(XGBRegressor(**xgb)), x_train, y_train, x_val, y_val),
        "n_train": int(train.sum()), "n_validation": int(val.sum()),
    }


def k_table(sweep, base):
    """Per k: SFNet mean, standard error over repeats (0 with one repeat) and every run; PCA."""
    table = {}
    for k, values in sweep.items():
        values = np.asarray(values)
        sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
        table[f"k{k}"] = {"k": k, "sfnet": float(values.mean()), "sfnet_sem": sem, "sfnet_runs": values.tolist(),
                          "pca": base["pca"][k]}
    return table


def main(params_path="params.yaml", prepared="out/prepared/sdss", dense_root="out/sfnet/dense",
         out_dir="out/sfnet/compare"):
    cfg = settings(load_params(params_path), params_path)
    unknown = set(cfg["xgboost"]) - XGB_KEYS
    if unknown:
        raise ParamError(f"{params_path}: unknown key(s) {sorted(unknown)} in 'sfnet.xgboost'; known: {sorted(XGB_KEYS)}")
    catalog = pd.read_parquet(Path(prepared) / "catalog.parquet")
    images = centre_crop(np.load(Path(prepared) / "images.npy", mmap_mode="r"), cfg["crop"])
    metrics, runs, curves = {}, [], {}
    for target in cfg["compare_targets"]:
        base = dense_baselines(cfg, target, dense_root)
        log.info("%s: dense %.4f, PCA %s, linear %s, XGBoost %s", target, base["dense"], base["pca"],
                 base["linear"], base["xgboost"])
        sweep, target_runs = sfnet_sweep(cfg, target, images, catalog, dense_root)
        runs += target_runs
        metrics[target] = {"dense_rmse": base["dense"], "k_table": k_table(sweep, base), "linear": base["linear"],
                           "xgboost": base["xgboost"], "n_train": base["n_train"], "n_validation": base["n_validation"]}
        rows = metrics[target]["k_table"].values()
        curves[target] = {"k": [r["k"] for r in rows], "sfnet_mean": [r["sfnet"] for r in rows],
                          "sfnet_sem": [r["sfnet_sem"] for r in rows], "pca": [r["pca"] for r in rows],
                          "dense": base["dense"]}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        write_json(tmp / "runs.json", runs)
        write_json(tmp / "curves.json", curves)  # drawn by the figures stage
    write_json("out/metrics/sfnet_compare.json", metrics)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
