"""The morphology study (SPEC §2): train a backbone, write its vote predictions, score the ensemble.

Test RMSE needs labels for the test folder: with simulated data they come from the truth table
(data.truth); with real Kaggle data the test set is unlabelled and the metric is omitted, not faked.
"""
from __future__ import annotations

import logging
from dataclasses import asdict

import keras
import numpy as np
import pandas as pd
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from galaxy_xai import layout
from galaxy_xai.domain import BACKBONES, VOTE_COLUMNS
from galaxy_xai.errors import InputError, ParamError, StaleOutputError
from galaxy_xai.io import atomic_path
from galaxy_xai.models.evaluation import ensemble_mean, visible_bar_auc
from galaxy_xai.models.morphology import build_model, compile_model, configured_augmentation
from galaxy_xai.models.training import (StopOnNonFinite, Throughput, image_batches, predict_rows, set_seeds, strategy,
                                        strategy_scope)
from galaxy_xai.stats import auc, rmse

log = logging.getLogger(__name__)
SPLITS = ("train", "test")  # the prediction files: labelled galaxies, and the test folder


def backbone_name(name: str) -> str:
    """The stage's matrix argument, checked against galaxy_xai.domain.BACKBONES."""
    if name not in BACKBONES:
        raise ParamError(f"model name must be one of {list(BACKBONES)}, got {name!r}")
    return name


def train_backbone(name, data, train, model_cfg, prepared: layout.Prepared, out: layout.ModelFolder) -> dict:
    """Train backbone `name` on the Galaxy Zoo train split (validated on its validation split) and
    write the model, its training log and dvclive folder into `out`; return the stage metrics.

    `data`, `train`, `model_cfg`: the DataConfig, TrainConfig and ModelConfig params groups.
    The model is built and compiled in `train.precision` under `train.distribute` (batch_size is
    the global batch; the learning rate is not rescaled: galaxy_xai.models.training).
    """
    strategy(train.distribute)  # a multi-worker strategy must exist before any other TensorFlow op
    seed, epochs, batch_size = data.random_seed, train.epochs[name], train.batch_size
    opt, jit = train.optimizer, train.jit_compile[name]
    set_seeds(seed)
    cat = prepared.read_catalog()
    images = prepared.read_images()
    if images.shape[1:] != data.image_shape:
        raise StaleOutputError(f"{prepared.images}: images are {images.shape[1:]}, params ask for "
                               f"{data.image_shape}; rerun prepare")
    fit, val = cat[cat["split"] == "train"], cat[cat["split"] == "validation"]
    log.info("%s: training on %d galaxies, validating on %d, %s px, %d epochs, jit_compile=%s",
             name, len(fit), len(val), data.image_shape[:2], epochs, jit)
    # The order below (augmentation, then the model) is the order the seeded draws are made in.
    train_ds = image_batches(images, fit["row"], fit[VOTE_COLUMNS], batch_size, shuffle=True, seed=seed,
                             augment=configured_augmentation(data.augmentation, seed))
    val_ds = image_batches(images, val["row"], val[VOTE_COLUMNS], batch_size)
    with strategy_scope(train):
        model = build_model(name, data.image_shape, len(VOTE_COLUMNS), model_cfg.weights,
                            output_mean=fit[VOTE_COLUMNS].mean().to_numpy(), bn_momentum=train.bn_momentum)
        model = compile_model(model, opt.lr, opt.decay, jit, opt.schedule, total_steps=epochs * len(train_ds))
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        speed = Throughput(batch_size)
        callbacks = [
            keras.callbacks.EarlyStopping(**asdict(train.callbacks.early_stopping)),
            keras.callbacks.CSVLogger(str(new.training_log)),
            DVCLiveCallback(live=Live(str(new.live), save_dvc_exp=False, dvcyaml=False)),
            speed,
            StopOnNonFinite(name),
        ]
        if opt.schedule == "constant" and opt.decay == 0:  # it cannot lower a schedule
            callbacks.insert(0, keras.callbacks.ReduceLROnPlateau(**asdict(train.callbacks.reduce_lr)))
        history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=1)
        model.save(new.model)
        val_rmse = float(model.evaluate(val_ds, verbose=0, return_dict=True)["rmse"])
    log.info("%s: validation RMSE %.4f, %.1f training images/s", name, val_rmse, speed.images_per_second)
    return {"val_rmse": val_rmse, "epochs_run": len(history.history["loss"]),
            "train_images_per_second": speed.images_per_second, "n_train": len(fit), "n_validation": len(val)}


def write_predictions(model, prepared: layout.Prepared, batch_size: int, out: layout.Predictions) -> None:
    """Vote predictions of `model` for the labelled galaxies (out.train) and the test folder (out.test)."""
    cat, images = prepared.read_catalog(), prepared.read_images()
    log.info("predicting %d labelled and %d test galaxies", cat["labelled"].sum(), (~cat["labelled"]).sum())
    for split, part in zip(SPLITS, (cat[cat["labelled"]], cat[~cat["labelled"]])):
        pred = predict_rows(model, images, part["row"], batch_size) if len(part) else np.zeros((0, len(VOTE_COLUMNS)))
        table = pd.DataFrame(pred, columns=VOTE_COLUMNS)
        table.insert(0, "GalaxyID", part["GalaxyID"].to_numpy())
        with atomic_path(getattr(out, split)) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")


def read_predictions(folder: layout.Predictions) -> dict:
    return {split: pd.read_csv(folder.need(split)) for split in SPLITS}


def truth_labels(truth_path, test_ids) -> pd.DataFrame | None:
    """Vote fractions and bar truth of the test galaxies, from the truth table (None for real data)."""
    truth = layout.read_truth(truth_path, ["GalaxyID", "has_bar", "bar_seen"] + [f"votes_{c}" for c in VOTE_COLUMNS])
    if truth is None:
        return None
    truth = truth.set_index("GalaxyID").reindex(test_ids)
    if truth.isna().any().any():
        raise InputError(f"{truth_path}: some test GalaxyIDs are missing from the truth table")
    return truth.rename(columns=lambda c: c.removeprefix("votes_"))


def score(pred: pd.DataFrame, cat: pd.DataFrame, labels) -> dict:
    """Validation RMSE and, with labels, test RMSE, bar AUC and visible-bar AUC of one predictor."""
    val = cat[cat["split"] == "validation"].set_index("GalaxyID")
    pv = pred.set_index("GalaxyID").reindex(val.index)
    out = {"val_rmse": rmse(val[VOTE_COLUMNS], pv[VOTE_COLUMNS])}
    if labels is not None:
        pt = pred.set_index("GalaxyID").reindex(labels.index)
        out["test_rmse"] = rmse(labels[VOTE_COLUMNS], pt[VOTE_COLUMNS])
        out["test_bar_auc"] = auc(labels["has_bar"], pt["Class3.1"])
        out["test_visible_bar_auc"] = visible_bar_auc(labels["has_bar"], labels["bar_seen"], pt["Class3.1"])
    return out


def ensemble(prepared: layout.Prepared, truth_path, predictions=layout.predictions) -> dict:
    """The mean of the backbones' predictions, written to predictions("ensemble"), and every
    predictor's scores (the metrics of the stage ensemble)."""
    cat = prepared.read_catalog()
    preds = {m: read_predictions(predictions(m)) for m in BACKBONES}
    ens = {s: ensemble_mean([preds[m][s] for m in BACKBONES], "GalaxyID") for s in SPLITS}
    out = predictions("ensemble")
    for s, table in ens.items():
        with atomic_path(getattr(out, s)) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
    test_ids = cat.loc[~cat["labelled"], "GalaxyID"].to_numpy()
    labels = truth_labels(truth_path, test_ids) if len(test_ids) else None
    train_mean = cat.loc[cat["split"] == "train", VOTE_COLUMNS].mean()
    metrics = {name: score(p["train"] if labels is None else pd.concat([p["train"], p["test"]]), cat, labels)
               for name, p in {**preds, "ensemble": ens}.items()}
    if labels is not None:
        baseline = rmse(labels[VOTE_COLUMNS], np.tile(train_mean.to_numpy(), (len(labels), 1)))
        metrics["train_mean_baseline"] = {"test_rmse": baseline}
        # The ceiling the labels set: the true vote fractions scored like a model's predictions
        metrics["labels"] = {"test_bar_auc": auc(labels["has_bar"], labels["Class3.1"]),
                             "test_visible_bar_auc": visible_bar_auc(labels["has_bar"], labels["bar_seen"], labels["Class3.1"])}
        gain = 1 - metrics["ensemble"]["test_rmse"] / baseline
        metrics["ensemble"]["improvement_over_mean"] = gain
        log.info("ensemble test RMSE %.4f (mean baseline %.4f, %.0f%% better); per model %s", metrics["ensemble"]["test_rmse"],
                 baseline, 100 * gain, {m: round(metrics[m]["test_rmse"], 4) for m in BACKBONES})
    return metrics
