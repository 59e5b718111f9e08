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

import logging
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
from dvclive import Live
from dvclive.keras import DVCLiveCallback
import tensorflow as tf
from sklearn.linear_model import LinearRegression, Ridge

from galaxy_xai import checks as ck
from galaxy_xai.config.sfnet import SfnetConfig
from galaxy_xai.data.images import centre_crop
from galaxy_xai.domain import SFNET_BLOCKS, SFNET_TARGETS, VOTE_COLUMNS
from galaxy_xai.errors import ParamError, StaleOutputError
from galaxy_xai.io import atomic_path, is_null, write_json
from galaxy_xai.layout import ModelFolder, Prepared
from galaxy_xai.models.sfnet import build_dense_twin, build_sfnet, compile_sfnet
from galaxy_xai.models.training import StopOnNonFinite, Throughput, image_batches, set_seeds, strategy, strategy_scope
from galaxy_xai.stats import rmse, rmse_per_output

log = logging.getLogger(__name__)


def target_sample(catalog: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation galaxies of a target's sample whose target values are all valid."""
    flag, columns = SFNET_TARGETS[target]
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
    frozen = SFNET_BLOCKS[: SFNET_BLOCKS.index(first_trainable)]
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
    callbacks = [StopOnNonFinite(model.name), *callbacks]
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)


def train_sfnet(cfg: SfnetConfig, k, images, train, val, columns, scaler, dense=None, dense_train_features=None,
                seed=None, callbacks=(), train_cfg=None):
    """One SFNet with k active features, by the `sfnet` recipe; returns (model, History or None).

    init = scratch: random weights, `epochs` at `lr` (the paper's procedure, our optimiser).
    init = dense: warm start from the dense twin (its features of `train`, in order), then
    `epochs` of fine-tuning at `finetune_lr` from block `trainable_from` on (0 epochs = warm start only).
    `train_cfg`: the `train` params, for train.precision and train.distribute (None: float32, one device).
    """
    seed = cfg.seed if seed is None else seed
    y_train, y_val = scaler.transform(train[columns]), scaler.transform(val[columns])
    with strategy_scope(train_cfg):
        if cfg.init == "dense":
            model, lr = sfnet_from_dense(dense, dense_train_features, y_train, k, cfg.trainable_from), cfg.finetune_lr
        else:
            model, lr = build_sfnet(k, len(columns), images.shape[1:]), cfg.lr
        if cfg.epochs == 0:
            return model, None
        history = fit_regressor(model, images, train["row"], y_train, val["row"], y_val, epochs=cfg.epochs,
                                batch_size=cfg.batch_size, lr=lr, weight_decay=cfg.weight_decay,
                                jit_compile=cfg.jit_compile, seed=seed, callbacks=callbacks)
    return model, history


def features_and_outputs(model, images, rows, batch_size) -> tuple[np.ndarray, np.ndarray]:
    """The 512 "features" activations and the head's (scaled) outputs for `images[rows]`, in order."""
    both = keras.Model(model.input, [model.get_layer("features").output, model.output])
    ds = image_batches(images, rows, None, batch_size)
    features, outputs = both.predict(ds, verbose=0)
    return features.astype(np.float32), outputs.astype(np.float32)


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


def aligned(table: dict, frame: pd.DataFrame, key: str = "features") -> np.ndarray:
    """Rows of `table[key]` for the galaxies of `frame`, in `frame`'s order (matched on objID)."""
    where = pd.Index(table["objID"]).get_indexer(frame["objID"].to_numpy(str))
    if (where < 0).any():
        raise StaleOutputError(f"{(where < 0).sum()} galaxies have no row in the feature table; rerun its stage")
    return table[key][where]


def save_model(model: keras.Model, path) -> None:
    """Save architecture and weights only: the AdamW moments would double the file (~90 MB more)."""
    bare = keras.Model.from_config(model.get_config())  # uncompiled (clone_model would recompile)
    bare.set_weights(model.get_weights())
    bare.save(path)


def load_target_data(prepared: Prepared, target: str, cfg: SfnetConfig):
    """What both trainers read: cropped images, train / validation galaxies, target columns, fitted scaler."""
    if target not in SFNET_TARGETS:
        raise ParamError(f"SFNet target must be one of {list(SFNET_TARGETS)}, got {target!r}")
    catalog = prepared.read_catalog()
    images = centre_crop(prepared.read_images(), cfg.crop)
    train, val = target_sample(catalog, target)
    columns = SFNET_TARGETS[target][1]
    return images, train, val, columns, Standardiser.fit(train[columns], cfg.standardise)


def save_trained(out: ModelFolder, model, images, train, val, columns, scaler, batch_size):
    """Write a trained network's model, feature table and standardiser into the folder `out`.

    Shared by the dense twin and the SFNet so both write the same files. Returns the
    validation galaxies' features and the validation RMSE in dex (overall, per output).
    """
    save_model(model, out.model)
    both = pd.concat([train, val], ignore_index=True)
    features, outputs = features_and_outputs(model, images, both["row"], batch_size)
    save_feature_table(out.features, both, features, scaler.inverse(outputs), columns)
    write_json(out.standardiser, scaler.to_dict())
    is_val = (both["split"] == "validation").to_numpy()
    y_val, p_val = both.loc[is_val, columns], scaler.inverse(outputs[is_val])
    return features[is_val], rmse(y_val, p_val), rmse_per_output(y_val, p_val)


def _callbacks(out: ModelFolder, batch_size: int, log_curves: bool = True):
    """Training log, dvclive curves and the throughput meter (returned too, for the metrics)."""
    speed = Throughput(batch_size)
    if not log_curves:
        return [], speed
    return [keras.callbacks.CSVLogger(str(out.training_log)), speed,
            DVCLiveCallback(live=Live(str(out.live), save_dvc_exp=False, dvcyaml=False))], speed


def train_dense(target: str, cfg: SfnetConfig, prepared: Prepared, out: ModelFolder, train_cfg=None) -> dict:
    """Stage sfnet_dense: the dense twin of `target` from random weights, written into `out`; its metrics.
    `train_cfg`: the `train` params, for train.precision and train.distribute (None: float32, one device)."""
    strategy(getattr(train_cfg, "distribute", "none"))  # a multi-worker strategy comes before any other op
    set_seeds(cfg.seed)
    images, train, val, columns, scaler = load_target_data(prepared, target, cfg)
    log.info("%s: dense twin on %d training / %d validation galaxies, %d px, %d epochs",
             target, len(train), len(val), cfg.crop, cfg.dense_epochs)
    with strategy_scope(train_cfg):
        model = build_dense_twin(len(columns), images.shape[1:])
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        files = out.at(tmp)
        callbacks, speed = _callbacks(files, cfg.batch_size)
        with strategy_scope(train_cfg):
            history = fit_regressor(model, images, train["row"], scaler.transform(train[columns]), val["row"],
                                    scaler.transform(val[columns]), epochs=cfg.dense_epochs,
                                    batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                    jit_compile=cfg.jit_compile, seed=cfg.seed, callbacks=callbacks)
        _, total, per_output = save_trained(files, model, images, train, val, columns, scaler, cfg.batch_size)
        table = load_feature_table(files.features)
    val_rows = table["validation"]
    gap = minus_mean(cfg, table["targets"][val_rows], table["predictions"][val_rows],
                     table["targets"][table["train"]].mean(axis=0))
    log.info("%s: dense twin validation RMSE %.4f dex (training mean %+.4f), %.1f training images/s",
             target, total, -gap["estimate"], speed.images_per_second)
    return {
        "val_rmse": total, "val_rmse_per_output": dict(zip(columns, per_output)),
        "val_target_std": dict(zip(columns, val[columns].std(ddof=0).tolist())),
        "dense_minus_mean": gap,
        "epochs_run": len(history.history["loss"]), "train_images_per_second": speed.images_per_second,
        "n_train": len(train), "n_validation": len(val),
        "checks": {f"{target}_dense_beats_mean": beats_mean_check("dense", gap)},
    }


def minus_mean(cfg: SfnetConfig, y_val, p_val, train_mean) -> dict:
    """Validation RMSE of `p_val` minus the constant `train_mean`'s, paired bootstrap CI over galaxies."""
    p_mean = np.broadcast_to(train_mean, np.shape(y_val))
    return ck.bootstrap_ci(lambda y, p, m: rmse(y, p) - rmse(y, m), y_val, p_val, p_mean,
                           n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)


def beats_mean_check(who: str, gap: dict) -> dict:
    """Validity: the upper 95 % bound of `who`'s RMSE minus the training mean's (`minus_mean`) is below 0."""
    return ck.check(gap["high"] is not None and gap["high"] < 0, gap["high"], 0.0,
                    f"upper 95 % bound of the {who} RMSE minus the training mean's (dex, paired bootstrap over "
                    f"{gap['n']} validation galaxies) is below 0: the network learned something", "validity")


def train_main(target: str, cfg: SfnetConfig, k: int, prepared: Prepared, dense: ModelFolder,
               out: ModelFolder, train_cfg=None) -> dict:
    """Stage train_sfnet: the SFNet of `target` with k active features (init from the twin in `dense`
    when sfnet.init is dense), written into `out`; its metrics, with the twin's RMSE for reference.
    `train_cfg`: the `train` params, for train.precision and train.distribute (None: float32, one device)."""
    strategy(getattr(train_cfg, "distribute", "none"))  # a multi-worker strategy comes before any other op
    set_seeds(cfg.seed)
    images, train, val, columns, scaler = load_target_data(prepared, target, cfg)
    dense_table = load_feature_table(dense.need("features"))
    twin = keras.models.load_model(dense.need("model"), compile=False) if cfg.init == "dense" else None
    log.info("%s: SFNet k=%d on %d training / %d validation galaxies, init %s, %d epochs",
             target, k, len(train), len(val), cfg.init, cfg.epochs)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        files = out.at(tmp)
        callbacks, speed = _callbacks(files, cfg.batch_size, log_curves=bool(cfg.epochs))  # a warm start alone has no curve
        model, history = train_sfnet(cfg, k, images, train, val, columns, scaler, twin,
                                     aligned(dense_table, train), callbacks=callbacks, train_cfg=train_cfg)
        val_features, total, per_output = save_trained(files, model, images, train, val, columns, scaler,
                                                       cfg.batch_size)
    dense_rmse = rmse(aligned(dense_table, val, "targets"), aligned(dense_table, val, "predictions"))
    log.info("%s: SFNet k=%d validation RMSE %.4f dex (dense twin %.4f)", target, k, total, dense_rmse)
    return {
        "k": k, "val_rmse": total, "val_rmse_per_output": dict(zip(columns, per_output)),
        "dense_val_rmse": dense_rmse, "rmse_ratio_to_dense": total / dense_rmse,
        "features_ever_active": int((val_features != 0).any(axis=0).sum()),
        "epochs_run": 0 if history is None else len(history.history["loss"]),
        "train_images_per_second": speed.images_per_second if speed.seconds else None,
        "n_train": len(train), "n_validation": len(val),
    }


# ----------------------------------------------------------------------------- the Zoobot analogue
# The paper's Zoobot experiments (seed 003, "Comparison to GalaxyZoo features") use Zoobot's
# ResNet18: the SFNet's backbone without top-k, trained on Galaxy Zoo vote fractions, not on the
# target. Here: the dense twin's architecture (build_dense_twin) trained on the simulated universe's
# Galaxy Zoo votes, then applied to the SDSS images the SFNets see; its 512 pooled features feed the
# comparisons of stages sfnet_compare and sfnet_features.

def resize_images(images, size: int, batch: int = 256) -> np.ndarray:
    """`[n, H, W, c]` uint8 images area-averaged to size x size, uint8 (in memory: cheap at these sizes)."""
    out = np.empty((len(images), size, size, images.shape[-1]), np.uint8)
    for start in range(0, len(images), batch):
        part = np.asarray(images[start : start + batch], np.float32)
        out[start : start + len(part)] = np.clip(np.round(tf.image.resize(part, (size, size), "area").numpy()), 0, 255)
    return out


def build_zoobot(input_shape, output_mean) -> keras.Model:
    """The dense twin (ResNet18, pooled "features", linear "head") with a sigmoid on the head, as the
    morphology CNNs (vote fractions lie in [0, 1]); the head's bias starts at the logit of the
    training mean votes, so the untrained network predicts the constant-mean baseline."""
    p = np.clip(np.asarray(output_mean, np.float64), 1e-4, 1 - 1e-4)
    twin = build_dense_twin(len(p), input_shape)
    kernel, _ = twin.get_layer("head").get_weights()
    twin.get_layer("head").set_weights([kernel, np.log(p / (1 - p)).astype(np.float32)])
    votes = keras.layers.Activation("sigmoid", name="votes", dtype="float32")(twin.output)
    return keras.Model(twin.input, votes, name="zoobot")


def compile_zoobot(model, lr, decay_steps, weight_decay, jit_compile=False):
    """AdamW with a cosine decay over the run (as the dense twin) and the morphology CNNs' loss for
    vote fractions: MSE (galaxy_xai.models.morphology.compile_model)."""
    schedule = keras.optimizers.schedules.CosineDecay(initial_learning_rate=lr, decay_steps=decay_steps)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")], jit_compile=jit_compile)
    return model


def morphology_check(votes: dict) -> dict:
    """Validity: the Zoobot analogue learned morphology, i.e. the upper 95 % bound of its validation
    RMSE on the vote fractions minus the constant training-mean votes' is below 0."""
    gap = votes["minus_mean"]
    return ck.check(gap["high"] is not None and gap["high"] < 0, gap["high"], 0.0,
                    f"upper 95 % bound of the Zoobot analogue's validation RMSE on the {votes['n_outputs']} Galaxy Zoo "
                    f"vote fractions minus the constant training-mean votes' (paired bootstrap over "
                    f"{votes['n_validation']} validation galaxies) is below 0: its features encode morphology", "validity")


def linear_readout(features, frame: pd.DataFrame, columns) -> np.ndarray:
    """Predictions of `columns` for every row of `frame` by a linear regression on `features`
    fitted on its training galaxies: what the Zoobot analogue's feature tables hold as "predictions"."""
    train = (frame["split"] == "train").to_numpy()
    fit = LinearRegression().fit(features[train], frame.loc[train, columns].to_numpy(float))
    return fit.predict(features).reshape(len(frame), -1)


def train_zoobot(cfg: SfnetConfig, galaxy_zoo: Prepared, sdss: Prepared, out, train_cfg=None) -> dict:
    """Stage sfnet_zoobot: the Zoobot analogue trained on the Galaxy Zoo votes (train split, validated
    on the validation split), then applied to the SDSS images of every galaxy of each target's sample.

    Writes into `out` (layout.sfnet_zoobot()) the model, its training log, a summary of how well it
    learned the votes, and per target a feature table (save_feature_table: 512 features, targets,
    and as predictions a linear regression on the features fitted on the training galaxies).
    Scale mismatch, by construction of the data: the Galaxy Zoo cut-outs span `simulate.gz_width_r90`
    (4) Petrosian R90 whatever the galaxy's size, resized here to sfnet.crop px; the SDSS crops span a
    fixed sfnet.crop x 0.396 arcsec (~19 arcsec at 48 px), so a galaxy fills them by its angular size.
    The network was trained on the first and is read on the second (Zoobot too was applied out of its
    training domain in the paper: its own DECaLS / SDSS cut-outs, scaled to the galaxy).
    """
    strategy(getattr(train_cfg, "distribute", "none"))  # a multi-worker strategy comes before any other op
    set_seeds(cfg.seed)
    zc = cfg.zoobot
    catalog = galaxy_zoo.read_catalog()
    images = resize_images(galaxy_zoo.read_images(), cfg.crop)
    fit, val = (catalog[catalog["split"] == s].reset_index(drop=True) for s in ("train", "validation"))
    if zc.max_train is not None:
        fit = fit.iloc[: zc.max_train]
    mean = fit[VOTE_COLUMNS].to_numpy(float).mean(axis=0)
    log.info("Zoobot analogue: %d training / %d validation Galaxy Zoo galaxies at %d px, %d epochs",
             len(fit), len(val), cfg.crop, zc.epochs)
    with strategy_scope(train_cfg):
        model = build_zoobot(images.shape[1:], mean)
        compile_zoobot(model, zc.lr, max(1, zc.epochs * -(-len(fit) // cfg.batch_size)), cfg.weight_decay,
                       cfg.jit_compile)
    train_ds = image_batches(images, fit["row"], fit[VOTE_COLUMNS], cfg.batch_size, shuffle=True, seed=cfg.seed,
                             augment=flips(cfg.seed))
    val_ds = image_batches(images, val["row"], val[VOTE_COLUMNS], cfg.batch_size)
    sdss_catalog = sdss.read_catalog()
    sdss_images = centre_crop(sdss.read_images(), cfg.crop)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir(parents=True)
        files = out.at(tmp)
        callbacks, speed = _callbacks(files, cfg.batch_size)
        history = model.fit(train_ds, validation_data=val_ds, epochs=zc.epochs, verbose=2,
                            callbacks=[StopOnNonFinite(model.name), *callbacks])
        save_model(model, files.model)
        y_val = val[VOTE_COLUMNS].to_numpy(float)
        p_val = model.predict(image_batches(images, val["row"], None, cfg.batch_size), verbose=0).astype(np.float64)
        votes = {"val_rmse": rmse(y_val, p_val), "val_loss": float(np.mean((y_val - p_val) ** 2)),
                 "mean_vote_rmse": rmse(y_val, np.broadcast_to(mean, y_val.shape)),
                 "minus_mean": minus_mean(cfg, y_val, p_val, mean),
                 "n_outputs": len(VOTE_COLUMNS), "n_train": len(fit), "n_validation": len(val)}
        samples = {t: pd.concat(target_sample(sdss_catalog, t), ignore_index=True) for t in SFNET_TARGETS}
        rows = np.unique(np.concatenate([s["row"].to_numpy() for s in samples.values()]))
        feats, _ = features_and_outputs(model, sdss_images, rows, cfg.batch_size)
        for target, frame in samples.items():
            x = feats[np.searchsorted(rows, frame["row"].to_numpy())]
            columns = SFNET_TARGETS[target][1]
            save_feature_table(getattr(files, f"features_{target}"), frame, x, linear_readout(x, frame, columns), columns)
        summary = {"votes": votes, "n_sdss_galaxies": len(rows), "image_px": cfg.crop}
        write_json(files.summary, summary)
    log.info("Zoobot analogue: validation vote RMSE %.4f (constant mean %.4f), %.1f training images/s",
             votes["val_rmse"], votes["mean_vote_rmse"], speed.images_per_second)
    return {**summary, "epochs_run": len(history.history["loss"]), "train_images_per_second": speed.images_per_second,
            "epoch_seconds": speed.seconds, "checks": {"zoobot_learned_morphology": morphology_check(votes)}}
