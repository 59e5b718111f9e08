"""Stage train_morphology@<model>: a Galaxy Zoo vote regressor (SPEC §2), logged with dvclive."""
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import atomic_path, get_logger, load_params, write_json
from galaxy_xai.models.morphology import augmentation, build_model, compile_model
from galaxy_xai.models.training import Throughput, image_batches, set_seeds
from galaxy_xai.params import augmentation_kwargs, image_shape, model_name, training_settings

log = get_logger("stage.train_morphology")


def main(name, params_path="params.yaml", prepared="out/prepared/galaxy_zoo", out_root="out/morphology"):
    params = load_params(params_path)
    name = model_name(name)
    shape = image_shape(params, params_path)
    aug = augmentation_kwargs(params, params_path)
    cfg = training_settings(params, name, params_path)
    set_seeds(cfg["seed"])
    cat = pd.read_parquet(Path(prepared) / "catalog.parquet")
    images = np.load(Path(prepared) / "images.npy", mmap_mode="r")
    if images.shape[1:] != shape:
        raise ValueError(f"{prepared}/images.npy: images are {images.shape[1:]}, params ask for {shape}; rerun prepare")
    train, val = cat[cat["split"] == "train"], cat[cat["split"] == "validation"]
    log.info("%s: training on %d galaxies, validating on %d, %s px, %d epochs, jit_compile=%s",
             name, len(train), len(val), shape[:2], cfg["epochs"], cfg["jit_compile"])
    train_ds = image_batches(images, train["row"], train[VOTE_COLUMNS], cfg["batch_size"], shuffle=True,
                             seed=cfg["seed"], augment=augmentation(**aug, seed=cfg["seed"]))
    val_ds = image_batches(images, val["row"], val[VOTE_COLUMNS], cfg["batch_size"])
    model = build_model(name, shape, len(VOTE_COLUMNS), cfg["weights"],
                        output_mean=train[VOTE_COLUMNS].mean().to_numpy(), bn_momentum=cfg["bn_momentum"])
    model = compile_model(model, cfg["lr"], cfg["decay"], cfg["jit_compile"], cfg["schedule"],
                          total_steps=cfg["epochs"] * len(train_ds))
    out_dir = Path(out_root) / name
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        speed = Throughput(cfg["batch_size"])
        callbacks = [
            keras.callbacks.EarlyStopping(**cfg["early_stopping"]),
            keras.callbacks.CSVLogger(str(tmp / "training_log.csv")),
            DVCLiveCallback(live=Live(str(tmp / "live"), save_dvc_exp=False, dvcyaml=False)),
            speed,
        ]
        if cfg["schedule"] == "constant" and cfg["decay"] == 0:  # it cannot lower a schedule
            callbacks.insert(0, keras.callbacks.ReduceLROnPlateau(**cfg["reduce_lr"]))
        history = model.fit(train_ds, validation_data=val_ds, epochs=cfg["epochs"], callbacks=callbacks, verbose=1)
        model.save(tmp / "model.keras")
        val_rmse = float(model.evaluate(val_ds, verbose=0, return_dict=True)["rmse"])
    write_json(Path("out/metrics") / f"train_{name}.json", {
        "val_rmse": val_rmse, "epochs_run": len(history.history["loss"]),
        "train_images_per_second": speed.images_per_second, "n_train": len(train), "n_validation": len(val),
    })
    log.info("%s: validation RMSE %.4f, %.1f training images/s", name, val_rmse, speed.images_per_second)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
