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
from galaxy_xai.xai.bar_study import agreement, paired_r_difference, per_r90, r_per_r90, references, true_lengths

log = get_logger("stage.control")


def build_regressor(shape, weights, bn_momentum=None):
    """Xception (swish) → global average pool → one linear output: a length is not a probability."""
    backbone = swish_backbone("xception", shape, weights, bn_momentum)
    x = keras.layers.GlobalAveragePooling2D()(backbone.output)
    return keras.Model(backbone.input, keras.layers.Dense(1, name="length")(x), name="control")


def heatmap_test_lengths(lengths_csv) -> pd.DataFrame:
    """The heatmap lengths of the test galaxies (chosen cell): the control is scored on exactly these."""
    lengths = pd.read_csv(lengths_csv)
    if not {"objid", "split", "measured"} <= set(lengths.columns):
        raise ValueError(f"{lengths_csv}: expected columns objid, split and measured; rerun barlength_test")
    return lengths[lengths["split"] == "test"].set_index("objid")


def heatmap_minus_control(heatmap, control, hoyle, truth, r90, n_bootstrap, seed) -> dict:
    """Paired bootstrap of r(heatmap) − r(control) against the catalogue and the truth, in arcsec
    and per R90 (galaxy size divided out, which both estimates otherwise share for free)."""
    out = {}
    for name, ref in references(hoyle, truth).items():
        out[name] = paired_r_difference(ref, heatmap, control, n_bootstrap, seed)
        out[name]["per_r90"] = paired_r_difference(per_r90(ref, r90), per_r90(heatmap, r90), per_r90(control, r90),
                                                   n_bootstrap, seed)
    return out


def scores(measured, reference, r90) -> dict:
    """Pearson r and raw RMSE (the control predicts in the catalogue's units), and r per R90."""
    return {**agreement(measured, reference), "rmse": float(np.sqrt(np.mean((measured - reference) ** 2))),
            "pearson_r_per_r90": r_per_r90(measured, reference, r90)}


def main(params_path="params.yaml", prepared="out/prepared/galaxy_zoo", out_dir="out/control",
         lengths_csv="out/barlength_test/lengths.csv"):
    params = load_params(params_path)
    shape = image_shape(params, params_path)
    aug = augmentation_kwargs(params, params_path)
    epochs = require(params, "xai.control.epochs", int, lambda v: v > 0, "a positive integer", params_path)
    lr = float(require(params, "xai.control.lr", float, lambda v: v > 0, "a positive number", params_path))
    n_bootstrap = require(params, "xai.control.n_bootstrap", int, lambda v: v >= 100, "an integer >= 100", params_path)
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
    heatmap = heatmap_test_lengths(lengths_csv)
    tested = bars["objid"].isin(heatmap.index).to_numpy()
    fit, test = bars[~tested], bars[tested]
    log.info("control: Xception on %d bar galaxies, tested on %d, %d epochs", len(fit), len(test), epochs)
    model = build_regressor(shape, weights, bn_momentum(params, params_path))
    ds = image_batches(images, fit["row"], fit[["length_scaled"]], batch, shuffle=True, seed=seed, augment=augmentation(**aug, seed=seed))
    # The morphology CNNs' learning-rate schedule, so the control is trained as well as they are.
    compile_model(model, lr, jit_compile=jit, schedule=lr_schedule(params, params_path), total_steps=epochs * len(ds))
    model.fit(ds, epochs=epochs, verbose=1)  # a progress bar: epochs take minutes on a CPU
    pred = predict_rows(model, images, test["row"], batch)[:, 0]
    r90 = test["PETROR90_R"].to_numpy(np.float64)
    measured = pred * r90
    hoyle = test["length_scaled"].to_numpy() * r90
    truth = true_lengths(truth_path, test["objid"])
    metrics = {name: scores(measured, ref, r90) for name, ref in references(hoyle, truth).items()}
    # Is the heatmap length (the chosen cell, as barlength_test reports it) better than the control?
    metrics["heatmap_minus_control"] = heatmap_minus_control(
        heatmap.loc[test["objid"], "measured"].to_numpy(), measured, hoyle, truth, r90, n_bootstrap, seed)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        model.save(tmp / "model.keras")
        pd.DataFrame({"objid": test["objid"], "measured": measured, "hoyle": hoyle}).to_csv(tmp / "lengths.csv", index=False)
    write_json("out/metrics/control.json", metrics)
    log.info("control: %s", metrics)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
