"""Training the SFNet and its dense twin (SPEC §4): samples, target scaling, warm starts, fitting.

Targets are standardised with the training mean / std (one scale per output) so that the RMSE
loss weighs the four lines alike and the head starts near the answer; every RMSE reported in dex
is computed after undoing the scaling.

Compute-saving warm start (a documented deviation from the paper, which re-trains each SFNet
from ImageNet weights): an SFNet can start from its dense twin's trained weights. Its head is
then re-fitted by least squares on the twin's top-k masked features, and only the layers from
`trainable_from` on (e.g. the last ResNet stage) are fine-tuned for a few epochs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from galaxy_xai.io import ParamError, check_known, is_null, require, write_json
from galaxy_xai.models.sfnet import build_sfnet, compile_sfnet
from galaxy_xai.models.training import image_batches

# target name -> (sample flag in the prepared catalogue, target columns)
TARGETS = {
    "metallicity": ("in_metallicity", ["oh_p50"]),
    "lines": ("in_lines", ["log_N2", "log_Ha", "log_O3", "log_Hb"]),
}
# ResNet18 layer-name prefixes in forward order; freezing stops at the first trainable block.
BLOCKS = ("stem", "stage1", "stage2", "stage3", "stage4", "head")
SETTINGS = ("seed", "crop", "batch_size", "standardise", "jit_compile", "dense_epochs", "init", "trainable_from",
            "epochs", "lr", "finetune_lr", "weight_decay", "compare_targets", "k_list", "repeats", "top_m", "n_top_galaxies",
            "svm_c", "ridge_alpha", "xgboost")


def target_sample(catalog: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation galaxies of a target's sample whose target values are all valid."""
    flag, columns = TARGETS[target]
    valid = catalog[flag].to_numpy(bool) & ~is_null(catalog[columns].to_numpy(float)).any(axis=1)
    sample = catalog[valid]
    return (sample[sample["split"] == "train"].reset_index(drop=True),
            sample[sample["split"] == "validation"].reset_index(drop=True))


@dataclass
class Standardiser:
    """Per-output affine scaling fitted on the training targets (identity when disabled)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, y, enabled: bool = True) -> "Standardiser":
        y = np.asarray(y, float)
        if not enabled:
            return cls(np.zeros(y.shape[1]), np.ones(y.shape[1]))
        std = y.std(axis=0)
        return cls(y.mean(axis=0), np.where(std > 0, std, 1.0))  # a constant target stays unscaled

    def transform(self, y) -> np.ndarray:
        return ((np.asarray(y, float) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z) -> np.ndarray:
        return np.asarray(z, float) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardiser":
        return cls(np.asarray(d["mean"], float), np.asarray(d["std"], float))


def rmse_dex(y_true, y_pred) -> tuple[float, list[float]]:
    """RMSE over all outputs together (the paper's number) and per output, in target units."""
    err = np.asarray(y_pred, float) - np.asarray(y_true, float)
    return float(np.sqrt(np.mean(err**2))), np.sqrt(np.mean(err**2, axis=0)).tolist()


def flips(seed: int) -> keras.Sequential:
    """The paper's only augmentation: random horizontal and vertical flips."""
    return keras.Sequential([keras.layers.RandomFlip("horizontal_and_vertical", seed=seed)], name="flips")


def topk_mask(features: np.ndarray, k: int) -> np.ndarray:
    """NumPy twin of the TopK layer: keep the k largest entries of each row, zero the rest."""
    features = np.asarray(features)
    if k >= features.shape[1]:
        return features.copy()
    kept = np.argpartition(-features, k - 1, axis=1)[:, :k]
    out = np.zeros_like(features)
    np.put_along_axis(out, kept, np.take_along_axis(features, kept, axis=1), axis=1)
    return out


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weighted layer of `source` into the layer of the same name in `target`."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def fit_head(model: keras.Model, features: np.ndarray, y_scaled: np.ndarray, alpha: float = 1e-3) -> None:
    """Set the linear head to the least-squares fit of the (scaled) targets on `features`."""
    y_scaled = np.asarray(y_scaled, float).reshape(len(features), -1)
    fit = Ridge(alpha=alpha).fit(features, y_scaled)
    kernel = np.asarray(fit.coef_).reshape(y_scaled.shape[1], -1).T
    model.get_layer("head").set_weights([kernel.astype(np.float32), np.ravel(fit.intercept_).astype(np.float32)])


def freeze_before(model: keras.Model, first_trainable: str) -> None:
    """Freeze every layer of the blocks before `first_trainable` (frozen batch norms use their statistics)."""
    frozen = BLOCKS[: BLOCKS.index(first_trainable)]
    for layer in model.layers:
        layer.trainable = not layer.name.startswith(frozen) if frozen else True


def sfnet_from_dense(dense, dense_train_features, y_train_scaled, k: int, trainable_from: str) -> keras.Model:
    """An SFNet warm-started from a trained dense twin (see the module note), ready to fine-tune.

    `dense_train_features` are the twin's features of the unflipped training images, i.e. what
    the new SFNet computes before its top-k filter, so its head starts at the best linear fit.
    """
    model = build_sfnet(k, dense.output.shape[-1], dense.input.shape[1:])
    copy_weights(dense, model)
    fit_head(model, topk_mask(dense_train_features, k), y_train_scaled)
    freeze_before(model, trainable_from)
    return model


def fit_regressor(model, images, train_rows, y_train, val_rows, y_val, *, epochs, batch_size, lr,
                  weight_decay, jit_compile, seed, callbacks=(), verbose=2):
    """Compile (AdamW, cosine decay over the run) and fit on flipped training images; returns the History."""
    steps = -(-len(train_rows) // batch_size)
    compile_sfnet(model, lr, decay_steps=max(1, epochs * steps), weight_decay=weight_decay, jit_compile=jit_compile)
    train_ds = image_batches(images, train_rows, y_train, batch_size, shuffle=True, seed=seed, augment=flips(seed))
    val_ds = image_batches(images, val_rows, y_val, batch_size)
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=list(callbacks), verbose=verbose)


def train_sfnet(cfg, k, images, train, val, columns, scaler, dense=None, dense_train_features=None,
                seed=None, callbacks=()):
    """One SFNet with k active features, by the `sfnet` recipe; returns (model, History or None).

    init = scratch: random weights, `epochs` at `lr` (the paper's procedure, our optimiser).
    init = dense: warm start from the dense twin (its features of `train`, in order), then
    `epochs` of fine-tuning at `finetune_lr` from block `trainable_from` on (0 epochs = warm start only).
    """
    seed = cfg["seed"] if seed is None else seed
    y_train, y_val = scaler.transform(train[columns]), scaler.transform(val[columns])
    if cfg["init"] == "dense":
        model, lr = sfnet_from_dense(dense, dense_train_features, y_train, k, cfg["trainable_from"]), cfg["finetune_lr"]
    else:
        model, lr = build_sfnet(k, len(columns), images.shape[1:]), cfg["lr"]
    if cfg["epochs"] == 0:
        return model, None
    history = fit_regressor(model, images, train["row"], y_train, val["row"], y_val, epochs=cfg["epochs"],
                            batch_size=cfg["batch_size"], lr=lr, weight_decay=cfg["weight_decay"],
                            jit_compile=cfg["jit_compile"], seed=seed, callbacks=callbacks)
    return model, history


def features_and_outputs(model, images, rows, batch_size) -> tuple[np.ndarray, np.ndarray]:
    """The 512 "features" activations and the head's (scaled) outputs for `images[rows]`, in order."""
    both = keras.Model(model.input, [model.get_layer("features").output, model.output])
    ds = image_batches(images, rows, None, batch_size)
    features, outputs = both.predict(ds, verbose=0)
    return features.astype(np.float32), outputs.astype(np.float32)


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    """The central size x size pixels of `[n, S, S, c]` images, as a view (a memmap stays lazy)."""
    side = images.shape[1]
    if not 0 < size <= side:
        raise ValueError(f"cannot crop {size} px from {side} px images")
    start = (side - size) // 2
    return images[:, start : start + size, start : start + size]


def save_feature_table(path, frame: pd.DataFrame, features, predictions, columns) -> None:
    """Per-galaxy outputs of a trained network: ids, split, targets and predictions (dex), 512 features."""
    np.savez_compressed(
        path, objID=frame["objID"].to_numpy(str), row=frame["row"].to_numpy(np.int64),
        split=frame["split"].to_numpy(str), columns=np.asarray(columns, str),
        targets=frame[columns].to_numpy(np.float64), predictions=np.asarray(predictions, np.float64),
        features=np.asarray(features, np.float32),
    )


def load_feature_table(path) -> dict:
    """`save_feature_table`'s arrays, plus boolean masks `train` and `validation`."""
    with np.load(path) as f:
        table = {key: f[key] for key in f.files}
    table["train"], table["validation"] = table["split"] == "train", table["split"] == "validation"
    return table


def settings(params: dict, source: str = "params.yaml") -> dict:
    """The `sfnet` params group, checked; fails with one sentence naming the bad key."""
    check_known(params, "sfnet", SETTINGS, source)  # a typo'd key fails here, not silently
    pos_int = lambda v: v > 0  # noqa: E731
    num = (int, float)
    get = lambda key, kind, check=None, what="": require(params, f"sfnet.{key}", kind, check, what, source)  # noqa: E731
    cfg = dict(
        seed=get("seed", int),
        crop=get("crop", int, lambda v: 32 <= v, "an integer >= 32 (pixels kept from the centre)"),
        batch_size=get("batch_size", int, pos_int, "a positive integer"),
        standardise=get("standardise", bool),
        jit_compile=get("jit_compile", bool),
        dense_epochs=get("dense_epochs", int, pos_int, "a positive integer"),
        init=get("init", str, lambda v: v in ("dense", "scratch"), "'dense' or 'scratch'"),
        trainable_from=get("trainable_from", str, lambda v: v in BLOCKS, f"one of {list(BLOCKS)}"),
        epochs=get("epochs", int, lambda v: v >= 0, "a non-negative integer"),
        lr=float(get("lr", num, lambda v: v > 0, "a positive number")),
        finetune_lr=float(get("finetune_lr", num, lambda v: v > 0, "a positive number")),
        weight_decay=float(get("weight_decay", num, lambda v: v >= 0, "a non-negative number")),
        compare_targets=get("compare_targets", list,
                            lambda v: v and len(set(v)) == len(v) and set(v) <= set(TARGETS),
                            f"a non-empty list of distinct targets from {list(TARGETS)}"),
        k_list=get("k_list", list, lambda v: v and all(isinstance(k, int) and 1 <= k <= 512 for k in v),
                   "a non-empty list of integers in [1, 512]"),
        repeats=get("repeats", int, pos_int, "a positive integer"),
        top_m=get("top_m", int, pos_int, "a positive integer"),
        n_top_galaxies=get("n_top_galaxies", int, lambda v: 1 <= v <= 9, "an integer in [1, 9] (a 3x3 grid)"),
        svm_c=float(get("svm_c", num, lambda v: v > 0, "a positive number")),
        ridge_alpha=float(get("ridge_alpha", num, lambda v: v > 0, "a positive number")),
        xgboost=get("xgboost", dict),
    )
    if cfg["init"] == "scratch" and cfg["epochs"] == 0:
        raise ParamError(f"{source}: key 'sfnet.epochs' must be positive when sfnet.init is 'scratch', got 0")
    return cfg


def sfnet_k(params: dict, source: str = "params.yaml") -> int:
    """train.k, the number of active features of the main SFNet."""
    return require(params, "train.k", int, lambda v: 1 <= v <= 512, "an integer in [1, 512]", source)


def aligned(table: dict, frame: pd.DataFrame, key: str = "features") -> np.ndarray:
    """Rows of `table[key]` for the galaxies of `frame`, in `frame`'s order (matched on objID)."""
    where = pd.Index(table["objID"]).get_indexer(frame["objID"].to_numpy(str))
    if (where < 0).any():
        raise ValueError(f"{(where < 0).sum()} galaxies have no row in the feature table; rerun its stage")
    return table[key][where]


def save_model(model: keras.Model, path) -> None:
    """Save architecture and weights only: the AdamW moments would double the file (~90 MB more)."""
    bare = keras.Model.from_config(model.get_config())  # uncompiled (clone_model would recompile)
    bare.set_weights(model.get_weights())
    bare.save(path)


def load_target_data(prepared, target: str, cfg: dict):
    """What both trainers read: cropped images, train / validation galaxies, target columns, fitted scaler."""
    catalog = pd.read_parquet(Path(prepared) / "catalog.parquet")
    images = centre_crop(np.load(Path(prepared) / "images.npy", mmap_mode="r"), cfg["crop"])
    train, val = target_sample(catalog, target)
    columns = TARGETS[target][1]
    return images, train, val, columns, Standardiser.fit(train[columns], cfg["standardise"])


def save_trained(out_dir, model, images, train, val, columns, scaler, batch_size):
    """Write a trained network's model.keras, features.npz and standardiser.json into `out_dir`.

    Shared by stages sfnet_dense and train_sfnet so both write the same files. Returns the
    validation galaxies' features and the validation RMSE in dex (overall, per output).
    """
    out_dir = Path(out_dir)
    save_model(model, out_dir / "model.keras")
    both = pd.concat([train, val], ignore_index=True)
    features, outputs = features_and_outputs(model, images, both["row"], batch_size)
    save_feature_table(out_dir / "features.npz", both, features, scaler.inverse(outputs), columns)
    write_json(out_dir / "standardiser.json", scaler.to_dict())
    is_val = (both["split"] == "validation").to_numpy()
    total, per_output = rmse_dex(both.loc[is_val, columns], scaler.inverse(outputs[is_val]))
    return features[is_val], total, per_output
