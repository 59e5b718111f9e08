"""Stage train_sfnet@<target>: the Sparse Feature Network with k = train.k active features (SPEC §4).

With sfnet.init = dense it starts from the dense twin of stage sfnet_dense (a compute-saving
deviation from the paper, see galaxy_xai/models/sfnet_training.py). Writes the model, its
features and predictions for every galaxy of the target's sample, and the validation RMSE in dex.
"""
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # oneDNN convolutions: ~3x faster backprop on this CPU

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from dvclive import Live  # noqa: E402
from dvclive.keras import DVCLiveCallback  # noqa: E402

from galaxy_xai.io import ParamError, atomic_path, get_logger, load_params, write_json  # noqa: E402
from galaxy_xai.models.sfnet_training import (  # noqa: E402
    TARGETS, Standardiser, aligned, centre_crop, features_and_outputs, load_feature_table, rmse_dex,
    save_feature_table, save_model, settings, sfnet_k, target_sample, train_sfnet,
)
from galaxy_xai.models.training import Throughput, set_seeds  # noqa: E402

log = get_logger("stage.train_sfnet")


def main(target, params_path="params.yaml", prepared="out/prepared/sdss", dense_root="out/sfnet/dense",
         out_root="out/sfnet/train"):
    if target not in TARGETS:
        raise ParamError(f"target must be one of {list(TARGETS)}, got {target!r}")
    params = load_params(params_path)
    cfg, k = settings(params, params_path), sfnet_k(params, params_path)
    set_seeds(cfg["seed"])
    catalog = pd.read_parquet(Path(prepared) / "catalog.parquet")
    images = centre_crop(np.load(Path(prepared) / "images.npy", mmap_mode="r"), cfg["crop"])
    train, val = target_sample(catalog, target)
    columns = TARGETS[target][1]
    scaler = Standardiser.fit(train[columns], cfg["standardise"])
    dense_table = load_feature_table(Path(dense_root) / target / "features.npz")
    dense = keras.models.load_model(Path(dense_root) / target / "model.keras", compile=False) \
        if cfg["init"] == "dense" else None
    log.info("%s: SFNet k=%d on %d training / %d validation galaxies, init %s, %d epochs",
             target, k, len(train), len(val), cfg["init"], cfg["epochs"])
    out_dir = Path(out_root) / target
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        speed = Throughput(cfg["batch_size"])
        callbacks = [keras.callbacks.CSVLogger(str(tmp / "training_log.csv")), speed,
                     DVCLiveCallback(live=Live(str(tmp / "live"), save_dvc_exp=False, dvcyaml=False))
                     ] if cfg["epochs"] else []  # a warm start alone has no learning curve
        model, history = train_sfnet(cfg, k, images, train, val, columns, scaler, dense,
                                     aligned(dense_table, train), callbacks=callbacks)
        save_model(model, tmp / "model.keras")
        both = pd.concat([train, val], ignore_index=True)
        features, outputs = features_and_outputs(model, images, both["row"], cfg["batch_size"])
        save_feature_table(tmp / "features.npz", both, features, scaler.inverse(outputs), columns)
        write_json(tmp / "standardiser.json", scaler.to_dict())
    is_val = (both["split"] == "validation").to_numpy()
    total, per_output = rmse_dex(both.loc[is_val, columns], scaler.inverse(outputs[is_val]))
    dense_rmse, _ = rmse_dex(aligned(dense_table, val, "targets"), aligned(dense_table, val, "predictions"))
    val_features = features[is_val]
    write_json(Path("out/metrics") / f"train_sfnet_{target}.json", {
        "k": k, "val_rmse": total, "val_rmse_per_output": dict(zip(columns, per_output)),
        "dense_val_rmse": dense_rmse, "rmse_ratio_to_dense": total / dense_rmse,
        "features_ever_active": int((val_features != 0).any(axis=0).sum()),
        "epochs_run": 0 if history is None else len(history.history["loss"]),
        "train_images_per_second": speed.images_per_second if speed.rates else None,
        "n_train": len(train), "n_validation": len(val),
    })
    log.info("%s: SFNet k=%d validation RMSE %.4f dex (dense twin %.4f)", target, k, total, dense_rmse)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
