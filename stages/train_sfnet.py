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
from dvclive import Live  # noqa: E402
from dvclive.keras import DVCLiveCallback  # noqa: E402

from galaxy_xai.io import ParamError, atomic_path, get_logger, load_params, write_json  # noqa: E402
from galaxy_xai.models.sfnet_training import (  # noqa: E402
    TARGETS, aligned, load_feature_table, load_target_data, rmse_dex, save_trained, settings, sfnet_k, train_sfnet,
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
    images, train, val, columns, scaler = load_target_data(prepared, target, cfg)
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
        val_features, total, per_output = save_trained(tmp, model, images, train, val, columns, scaler,
                                                       cfg["batch_size"])
    dense_rmse, _ = rmse_dex(aligned(dense_table, val, "targets"), aligned(dense_table, val, "predictions"))
    write_json(Path("out/metrics") / f"train_sfnet_{target}.json", {
        "k": k, "val_rmse": total, "val_rmse_per_output": dict(zip(columns, per_output)),
        "dense_val_rmse": dense_rmse, "rmse_ratio_to_dense": total / dense_rmse,
        "features_ever_active": int((val_features != 0).any(axis=0).sum()),
        "epochs_run": 0 if history is None else len(history.history["loss"]),
        "train_images_per_second": speed.images_per_second if speed.seconds else None,
        "n_train": len(train), "n_validation": len(val),
    })
    log.info("%s: SFNet k=%d validation RMSE %.4f dex (dense twin %.4f)", target, k, total, dense_rmse)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
