"""Training and inference shared by the SCL models (stage scl) and the MI estimators (stage mi_estimate).

It lives in the library, not in stages/scl.py, so that stage mi_estimate need not import another
stage script (and re-run whenever that script changes). Data loading, `train_and_infer` (train,
infer on every galaxy, write the outputs) and the per-split metrics; the settings are the
`scl` / `mi` config groups (`galaxy_xai.config.scl`, `.mi`, their shared keys in `.estimator`).
"""
import json
import time

import keras
import numpy as np
import pandas as pd

from galaxy_xai import checks, layout
from galaxy_xai.domain import SPLITS
from galaxy_xai.errors import InputError, ParamError
from galaxy_xai.info.binning import bin_edges, log_prior
from galaxy_xai.info.decomposition import convergence
from galaxy_xai.io import atomic_path, is_null, write_json
from galaxy_xai.models import scl
from galaxy_xai.models.training import StopOnNonFinite, Throughput, replicas, set_seeds, strategy, strategy_scope
from galaxy_xai.runtime import logger

log = logger("scl_training")

ESTIMATES = ("mean", "mode", "median")


# ------------------------------------------------------------------------------ params

def checked_dataset(name, group, source="params.yaml") -> str:
    """The input-set name of this matrix entry (from `<group>.datasets`), if scl can read it.

    The stage does not check the list itself, so adding a dataset leaves the others up to date.
    """
    try:
        scl.parse_input_set(name)
    except ValueError as err:
        raise ParamError(f"{source}: '{group}.datasets': {err}") from None
    return name


# ------------------------------------------------------------------------------ data

def load_catalog(target, prepared: layout.Prepared):
    """Prepared catalogue, the images memmap, and the target with nulls as NaN."""
    cat = prepared.read_catalog()
    if target not in cat.columns:
        raise InputError(f"{prepared.catalog} has no target column {target!r}")
    images = prepared.read_images()
    y = cat[target].to_numpy(dtype=np.float64)
    return cat, images, np.where(is_null(y), np.nan, y)


def split_masks(cat, y) -> dict:
    """Rows of each split that have a known target (a null target cannot be binned)."""
    known = np.isfinite(y)
    return {s: (cat["split"] == s).to_numpy() & known for s in SPLITS}


# ------------------------------------------------------------------------------ training

def build_model(name, main, add, cfg, mi_only):
    """The SCL model (or MI estimator) of input set `name`; e and coeff_recon exist only in the scl group."""
    return scl.SCLModel(main.shape[1:], add.shape[1], bins=cfg.bins, y_min=cfg.y_min, y_max=cfg.y_max,
                        m=cfg.m, e=getattr(cfg, "e", None), coeff_recon=getattr(cfg, "coeff_recon", None),
                        width=cfg.width, mi_only=mi_only, seed=cfg.seed,
                        name=f"{'mi' if mi_only else 'scl'}_{_safe(name)}")


def start_at_prior(model, y_train, edges, smoothing) -> None:
    """Set the estimator's output bias to the log prior of the training targets.

    An untrained model then predicts the marginal distribution of y instead of a random one, so
    the first iterations learn how y depends on the input rather than where y lies; with a short
    training budget this matters (the study, with 180 000 iterations, starts at random).
    """
    model.estimator.layers[-1].bias.assign(log_prior(y_train, edges, smoothing).astype(np.float32))


def _safe(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def train_and_infer(name, cfg, out: layout.Estimator, mi_only: bool, prepared: layout.Prepared | None = None,
                    train_cfg=None) -> dict:
    """Train the model of input set `name` (settings: an SclConfig or MiConfig), infer on every
    galaxy and write the folder `out` atomically, summary.json included; return that summary:
    settings, timing and per-split metrics. `mi_only`: the MI estimator (no decoder, cross-entropy only).

    `train_cfg`: the `train` params, of which only `precision` and `distribute` are read (None:
    float32 on one device). The model and its optimiser are made inside `strategy_scope`; the
    batch sizes of the scl / mi groups are global (each of N replicas sees batch / N; for SCL
    2·batch / N, its own A/B pairs, see SCLModel.scl_losses) and must be multiples of N; the
    learning rate is the param's, not rescaled."""
    prepared = prepared or layout.prepared("stellar_mass")
    precision, distribute = getattr(train_cfg, "precision", "float32"), getattr(train_cfg, "distribute", "none")
    strategy(distribute)  # a multi-worker strategy must exist before any other TensorFlow op
    set_seeds(cfg.seed)
    cat, images, y = load_catalog(cfg.target, prepared)
    masks = split_masks(cat, y)
    train, val = masks["train"], masks["validation"]
    stats = scl.fit_input_stats(name, cat, train=train, p_lo=cfg.p_lo, p_hi=cfg.p_hi)
    main, add = scl.dataset_inputs(name, cat, images, stats)
    kind = "image" if main.ndim == 4 else "photometry"
    iterations, batch = cfg.iterations[kind], cfg.batch_size[kind]
    group = getattr(cfg, "group", "scl")
    per_step = batch if mi_only else 2 * batch  # an SCL step draws A and B: two batches of distinct galaxies
    if train.sum() < per_step:
        raise ParamError(f"params.yaml: key '{group}.batch_size.{kind}' ({batch}) needs {per_step} distinct training "
                         f"galaxies per step, but {prepared.catalog} has {int(train.sum())} with a known {cfg.target}; "
                         f"lower the batch or simulate more galaxies")
    edges = bin_edges(cfg.bins, cfg.y_min, cfg.y_max)
    with strategy_scope(precision=precision, distribute=distribute):
        n_replicas = replicas()
        if batch % n_replicas:
            raise ParamError(f"params.yaml: key '{group}.batch_size.{kind}' must be a multiple of the {n_replicas} "
                             f"replicas of train.distribute={distribute}, got {batch}")
        model = build_model(name, main, add, cfg, mi_only)
        if cfg.prior_smoothing is not None:
            start_at_prior(model, y[train], edges, cfg.prior_smoothing)
        # compile adds a LossScaleOptimizer under mixed_float16 (the model's policy)
        model.compile(optimizer=scl.scl_optimizer(iterations, cfg.lr, cfg.lr_drop_fraction, cfg.lr_drop_factor))
    train_ds = scl.train_dataset(main[train], add[train], y[train], edges, batch, pairs=not mi_only, seed=cfg.seed,
                                 replicas=n_replicas)
    val_ds = scl.eval_dataset(main[val], add[val], y[val], edges, cfg.infer_batch_size) if val.any() else None
    log.info("%s: %s set, main %s + %d additional; %d training / %d validation galaxies; "
             "%d iterations of %s%d galaxies%s", out.stage, kind, main.shape[1:], add.shape[1], train.sum(),
             val.sum(), iterations, "" if mi_only else "2×", batch,
             f", width {cfg.width}" if kind == "image" else "")
    if (precision, distribute) != ("float32", "none"):
        log.info("%s: precision %s, distribute %s over %d replicas (%d galaxies per replica per step)", out.stage,
                 precision, distribute, n_replicas, (batch if mi_only else 2 * batch) // n_replicas)
    timer = Throughput()
    # keep_best: the weights of the epoch with the lowest validation cross-entropy (a short run
    # on a small sample overfits late); the test split stays untouched by this choice.
    keep_best = cfg.keep_best and val_ds is not None
    epochs, patience = training_epochs(name, cfg, val_ds is not None)
    best = keras.callbacks.EarlyStopping("val_ce", mode="min", patience=patience, restore_best_weights=True)
    keep_best = keep_best or epochs > cfg.epochs
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        files = out.at(tmp)
        callbacks = [keras.callbacks.CSVLogger(str(files.training_log)), timer, StopOnNonFinite(name)]
        history = model.fit(train_ds, epochs=epochs, steps_per_epoch=iterations // cfg.epochs,
                            validation_data=val_ds, verbose=2, callbacks=callbacks + ([best] if keep_best else []))
        start = time.perf_counter()
        inferred = scl.infer(model, main, add, cfg.infer_batch_size)
        infer_seconds = time.perf_counter() - start
        table = prediction_table(cat, y, inferred, edges)
        table.to_parquet(files.predictions, index=False)
        np.save(files.latent, inferred["latent"].astype(np.float32))
        np.save(files.p, inferred["p"].astype(np.float16))  # half precision: 2 bytes × bins per galaxy
        model.save(files.model)
        files.input_stats.write_text(json.dumps(stats, indent=2))
        summary = {"dataset": name, "mi_only": mi_only, "kind": kind,
                   **{k: getattr(cfg, k) for k in ("target", "bins", "y_min", "y_max", "seed", "lr", "prior_smoothing")},
                   "width": cfg.width if kind == "image" else None, "iterations": iterations, "batch_size": batch,
                   "precision": precision, "distribute": distribute, "replicas": n_replicas,
                   "kept_epoch": best.best_epoch + 1 if keep_best else cfg.epochs,
                   "max_epochs": epochs, "trained_epochs": len(history.epoch),
                   "trained_iterations": len(history.epoch) * (iterations // cfg.epochs),
                   "train_seconds": sum(timer.seconds), "first_epoch_seconds": timer.seconds[0],
                   "seconds_per_step": timer.seconds_per_step,
                   "infer_galaxies_per_second": len(y) / infer_seconds,
                   "splits": split_metrics(table, inferred["p"], masks, edges)}
        summary |= estimator_checks(name, table, cfg)
        for entry in summary["splits"].values():  # the figure's panel reads this flag beside σ_MAD
            entry["mean"]["converged"] = summary["sigma_mad_is_result"]
        write_json(files.summary, summary)
    log.info("%s: trained in %.0f s (%.3f s/step after the first epoch), inferred %.0f galaxies/s", out.stage,
             summary["train_seconds"], summary["seconds_per_step"], summary["infer_galaxies_per_second"])
    for split, m in summary["splits"].items():
        log.info("%s %s: σ_MAD %.3f, bias %+.3f, η %.3f (mean estimate), CRPS %.3f, cross-entropy %.2f, n %d",
                 out.stage, split, m["mean"]["sigma_mad"], m["mean"]["bias"], m["mean"]["eta"], m["crps"],
                 m["cross_entropy"], m["n"])
    return summary


def training_epochs(name, cfg, validated: bool) -> tuple[int, int]:
    """(most epochs, early-stopping patience) for input set `name`. A union estimator of the mi group
    ("A+B", mi.union_max_epochs > 0, with validation galaxies) trains until its validation
    cross-entropy has not fallen for mi.union_patience epochs, within the cap; every other estimator
    trains cfg.epochs epochs (patience = cfg.epochs: keep_best only restores the best epoch)."""
    cap = getattr(cfg, "union_max_epochs", 0)
    if "+" in name and cap > cfg.epochs and validated:
        return cap, cfg.union_patience
    return cfg.epochs, cfg.epochs


def estimator_checks(name, table, cfg, on: str = "test") -> dict:
    """The "checks" and "headlines" of an estimator's metrics: `converged` (its `on` cross-entropy
    beats the training set's binned prior, `info.decomposition.convergence`), and σ_MAD of the mean
    estimate with a bootstrap CI as the headline, withheld (null, `sigma_mad_is_result` false) when
    the estimator did not converge: a model at the prior has no σ_MAD worth comparing."""
    split = table["split"].to_numpy()
    y, est = table["target"].to_numpy(), table["est_mean"].to_numpy()
    converged, details = convergence(y, split, table["cross_entropy"].to_numpy(), cfg.bins, cfg.y_min, cfg.y_max,
                                     n_bootstrap=cfg.n_bootstrap, seed=cfg.seed, on=on)
    rows = (split == on) & np.isfinite(y)
    sigma = checks.bootstrap_ci(lambda t, e: scl.photoz_style_metrics(t, e)["sigma_mad"], y[rows], est[rows],
                                n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
    ok = converged["passed"]
    head = checks.headline(f"SCL estimates log M* from {name} (σ_MAD of the mean estimate on the {on} galaxies; "
                           f"the stellar-mass study compares input sets by it)",
                           "not given in the source documents (code README only)",
                           sigma["estimate"] if ok else None, "dex", ["converged"],
                           low=sigma["low"] if ok else None, high=sigma["high"] if ok else None)
    if not ok:
        log.warning("%s: %s cross-entropy %.3f is not below the training prior's %.3f: not converged, σ_MAD %.3f "
                    "is no result", name, on, details["cross_entropy"] or float("nan"),
                    details["prior_cross_entropy"] or float("nan"), sigma["estimate"] or float("nan"))
    return {"checks": {"converged": converged}, "headlines": {f"sigma_mad_{name}": head},
            "sigma_mad_is_result": ok, "sigma_mad": sigma, "convergence": details,
            "n": {"converged": details["n"], "sigma_mad": sigma["n"]}}


def prediction_table(cat, y, out, edges) -> pd.DataFrame:
    """Per galaxy: catalogue row and split, target, the three estimates, −log p(true bin) (NaN
    where the target is null)."""
    known = np.isfinite(y)
    cross_entropy = np.full(len(y), np.nan)
    cross_entropy[known] = scl.per_galaxy_cross_entropy(out["p"][known], y[known], edges)
    return pd.DataFrame({"row": cat["row"].to_numpy(), "split": cat["split"].to_numpy(), "target": y,
                         **{f"est_{e}": out[e] for e in ESTIMATES}, "cross_entropy": cross_entropy})


# ------------------------------------------------------------------------------ metrics

def split_metrics(table, p, masks, edges) -> dict:
    """Per split: bias, σ_MAD, η of each point estimate, CRPS of p and mean cross-entropy."""
    out = {}
    for split, rows in masks.items():
        if not rows.any():
            continue
        y = table["target"].to_numpy()[rows]
        entry = {e: scl.photoz_style_metrics(y, table[f"est_{e}"].to_numpy()[rows]) for e in ESTIMATES}
        entry["crps"] = scl.photoz_style_metrics(y, y, p[rows], edges)["crps"]
        entry["cross_entropy"] = float(table["cross_entropy"].to_numpy()[rows].mean())
        entry["n"] = int(rows.sum())
        out[split] = entry
    return out
