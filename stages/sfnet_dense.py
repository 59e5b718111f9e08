"""Stage sfnet_dense@<target>: the SFNet's dense twin (ResNet18 without top-k), trained from random weights.

It is the comparisons' "dense CNN" (SPEC §4) and, with sfnet.init = dense, the warm start of every
SFNet. Writes the model, its 512 features and predictions for every galaxy of the target's sample.
"""
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # oneDNN convolutions: ~3x faster backprop on this CPU

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
from dvclive import Live  # noqa: E402
from dvclive.keras import DVCLiveCallback  # noqa: E402

from galaxy_xai.io import ParamError, atomic_path, get_logger, load_params, write_json  # noqa: E402
from galaxy_xai.models.sfnet import build_dense_twin  # noqa: E402
from galaxy_xai.models.sfnet_training import (  # noqa: E402
    TARGETS, fit_regressor, load_target_data, save_trained, settings,
)
from galaxy_xai.models.training import Throughput, set_seeds  # noqa: E402

log = get_logger("stage.sfnet_dense")


def main(target, params_path="params.yaml", prepared="out/prepared/sdss", out_root="out/sfnet/dense"):
    if target not in TARGETS:
        raise ParamError(f"target must be one of {list(TARGETS)}, got {target!r}")
    cfg = settings(load_params(params_path), params_path)
    set_seeds(cfg["seed"])
    images, train, val, columns, scaler = load_target_data(prepared, target, cfg)
    log.info("%s: dense twin on %d training / %d validation galaxies, %d px, %d epochs",
             target, len(train), len(val), cfg["crop"], cfg["dense_epochs"])
    model = build_dense_twin(len(columns), images.shape[1:])
    out_dir = Path(out_root) / target
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        speed = Throughput(cfg["batch_size"])
        callbacks = [keras.callbacks.CSVLogger(str(tmp / "training_log.csv")), speed,
                     DVCLiveCallback(live=Live(str(tmp / "live"), save_dvc_exp=False, dvcyaml=False))]
        history = fit_regressor(model, images, train["row"], scaler.transform(train[columns]), val["row"],
                                scaler.transform(val[columns]), epochs=cfg["dense_epochs"],
                                batch_size=cfg["batch_size"], lr=cfg["lr"], weight_decay=cfg["weight_decay"],
                                jit_compile=cfg["jit_compile"], seed=cfg["seed"], callbacks=callbacks)
        _, total, per_output = save_trained(tmp, model, images, train, val, columns, scaler, cfg["batch_size"])
    write_json(Path("out/metrics") / f"sfnet_dense_{target}.json", {
        "val_rmse": total, "val_rmse_per_output": dict(zip(columns, per_output)),
        "val_target_std": dict(zip(columns, val[columns].std(ddof=0).tolist())),
        "epochs_run": len(history.history["loss"]), "train_images_per_second": speed.images_per_second,
        "n_train": len(train), "n_validation": len(val),
    })
    log.info("%s: dense twin validation RMSE %.4f dex, %.1f training images/s", target, total, speed.images_per_second)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
