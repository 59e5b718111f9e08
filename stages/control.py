"""Stage control: Xception regressing the catalogue bar length directly from GZ2 images (SPEC §3).

Trained on the bar catalogue's validation part and scored on its test part, the same galaxies
the heatmap lengths are tested on, so the two are compared like for like.
"""
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_xai.io import atomic_path, get_logger, load_params, require, write_json
from galaxy_xai.models.morphology import augmentation, compile_model, swish_backbone
from galaxy_xai.models.training import image_batches, predict_rows, set_seeds
from galaxy_xai.params import augmentation_kwargs, bn_momentum, image_shape, lr_schedule
from galaxy_xai.xai.bar_study import agreement, true_lengths

log = get_logger("stage.control")


def build_regressor(shape, weights, bn_momentum=None):
    """Xception (swish) → global average pool → one linear output: a length is not a probability."""
    backbone = swish_backbone("xception", shape, weights, bn_momentum)
    x = keras.layers.GlobalAveragePooling2D()(backbone.output)
    return keras.Model(backbone.input, keras.layers.Dense(1, name="length")(x), name="control")


def test_ids(lengths_csv) -> set:
    """The bar galaxies the heatmap lengths were tested on: the control is scored on exactly these."""
    lengths = pd.read_csv(lengths_csv)
    if not {"objid", "split"} <= set(lengths.columns):
        raise ValueError(f"{lengths_csv}: expected columns objid and split; rerun barlength_test")
    return set(lengths.loc[lengths["split"] == "test", "objid"])


def main(params_path="params.yaml", prepared="out/prepared/galaxy_zoo", out_dir="out/control",
         lengths_csv="out/barlength_test/lengths.csv"):
    params = load_params(params_path)
    shape = image_shape(params, params_path)
    aug = augmentation_kwargs(params, params_path)
    epochs = require(params, "xai.control.epochs", int, lambda v: v > 0, "a positive integer", params_path)
    lr = float(require(params, "xai.control.lr", float, lambda v: v > 0, "a positive number", params_path))
    batch = require(params, "train.batch_size", int, lambda v: v > 0, "a positive integer", params_path)
    weights = require(params, "model.weights", (str, type(None)), source=params_path)
    jit = require(params, "train.jit_compile.xception", bool, source=params_path)
    truth_path = require(params, "data.truth", (str, type(None)), source=params_path)
    seed = require(params, "data.random_seed", int, source=params_path)
    set_seeds(seed)
    bars = pd.read_parquet(Path(prepared) / "bars.parquet")
    images = np.load(Path(prepared) / "bar_images.npy", mmap_mode="r")
    # Same test galaxies as the heatmap lengths; it learns from every other bar galaxy (with
    # xai.max_galaxies null that is the heatmaps' validation half, the paper's set-up).
    tested = bars["objid"].isin(test_ids(lengths_csv)).to_numpy()
    fit, test = bars[~tested], bars[tested]
    log.info("control: Xception on %d bar galaxies, tested on %d, %d epochs", len(fit), len(test), epochs)
    model = build_regressor(shape, weights, bn_momentum(params, params_path))
    ds = image_batches(images, fit["row"], fit[["length_scaled"]], batch, shuffle=True, seed=seed, augment=augmentation(**aug, seed=seed))
    # The morphology CNNs' learning-rate schedule, so the control is trained as well as they are.
    compile_model(model, lr, jit_compile=jit, schedule=lr_schedule(params, params_path), total_steps=epochs * len(ds))
    model.fit(ds, epochs=epochs, verbose=1)  # a progress bar: epochs take minutes on a CPU
    pred = predict_rows(model, images, test["row"], batch)[:, 0]
    measured = pred * test["PETROR90_R"].to_numpy()
    hoyle = test["length_scaled"].to_numpy() * test["PETROR90_R"].to_numpy()
    metrics = {"vs_catalogue": {**agreement(measured, hoyle), "rmse": float(np.sqrt(np.mean((measured - hoyle) ** 2)))}}
    truth = true_lengths(truth_path, test["objid"])
    if truth is not None:
        metrics["vs_truth"] = {**agreement(measured, truth), "rmse": float(np.sqrt(np.mean((measured - truth) ** 2)))}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        model.save(tmp / "model.keras")
        pd.DataFrame({"objid": test["objid"], "measured": measured, "hoyle": hoyle}).to_csv(tmp / "lengths.csv", index=False)
    write_json("out/metrics/control.json", metrics)
    log.info("control: %s", metrics)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
