"""Training and inference shared by the SCL models (stage scl) and the MI estimators (stage mi_estimate).

It lives in the library, not in stages/scl.py, so that stage mi_estimate need not import another
stage script (and re-run whenever that script changes). Settings validation, data loading,
`train_and_infer` (train, infer on every galaxy, write the outputs) and the per-split metrics.
"""
import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_xai.io import ParamError, atomic_path, check_known, get_logger, is_null, require, write_json
from galaxy_xai.models import scl
from galaxy_xai.models.training import Throughput, set_seeds

log = get_logger("scl_training")

PREPARED = Path("out/prepared/stellar_mass")
SPLITS = ("train", "validation", "test")
ESTIMATES = ("mean", "mode", "median")
KINDS = ("photometry", "image")
ESTIMATOR_KEYS = ("target", "bins", "y_min", "y_max", "m", "width", "iterations", "batch_size", "lr",
                  "lr_drop_fraction", "lr_drop_factor", "epochs", "p_lo", "p_hi", "infer_batch_size", "seed",
                  "prior_smoothing", "keep_best")


# ------------------------------------------------------------------------------ params

def _per_kind(params, dotted, source):
    node = require(params, dotted, dict, lambda v: set(v) == set(KINDS),
                   "a mapping with exactly the keys photometry and image", source)
    for kind in KINDS:
        require(params, f"{dotted}.{kind}", int, lambda v: v > 0, "a positive integer", source)
    return dict(node)


def require_optional(params, dotted, kind, check, what, source):
    """`require`, but null is also accepted."""
    return require(params, dotted, (kind, type(None)), lambda v: v is None or check(v), what, source)


def estimator_settings(params, group, allowed=ESTIMATOR_KEYS, source="params.yaml") -> dict:
    """The training settings shared by the SCL models and the MI estimators, validated."""
    check_known(params, group, allowed, source)
    num, pos = (int, float), (lambda v: v > 0)
    g = lambda key: f"{group}.{key}"  # noqa: E731
    cfg = dict(
        target=require(params, g("target"), str, source=source),
        bins=require(params, g("bins"), int, lambda v: v >= 2, "an integer >= 2", source),
        y_min=float(require(params, g("y_min"), num, source=source)),
        y_max=float(require(params, g("y_max"), num, source=source)),
        m=require_optional(params, g("m"), int, pos, "null or a positive integer", source),
        width=float(require(params, g("width"), num, pos, "a positive number", source)),
        iterations=_per_kind(params, g("iterations"), source),
        batch_size=_per_kind(params, g("batch_size"), source),
        lr=float(require(params, g("lr"), num, pos, "a positive number", source)),
        lr_drop_fraction=float(require(params, g("lr_drop_fraction"), num, lambda v: 0 < v <= 1, "in (0, 1]", source)),
        lr_drop_factor=float(require(params, g("lr_drop_factor"), num, lambda v: v >= 1, "a number >= 1", source)),
        epochs=require(params, g("epochs"), int, pos, "a positive integer", source),
        p_lo=float(require(params, g("p_lo"), num, lambda v: 0 <= v < 100, "a percentile in [0, 100)", source)),
        p_hi=float(require(params, g("p_hi"), num, lambda v: 0 < v <= 100, "a percentile in (0, 100]", source)),
        infer_batch_size=require(params, g("infer_batch_size"), int, pos, "a positive integer", source),
        seed=require(params, g("seed"), int, source=source),
        prior_smoothing=require_optional(params, g("prior_smoothing"), (int, float), lambda v: v >= 0,
                                         "null or a number >= 0 (in units of the target)", source),
        keep_best=require(params, g("keep_best"), bool, source=source),
    )
    if cfg["y_max"] <= cfg["y_min"]:
        raise ParamError(f"{source}: '{group}.y_max' ({cfg['y_max']}) must exceed '{group}.y_min' ({cfg['y_min']})")
    if cfg["p_hi"] <= cfg["p_lo"]:
        raise ParamError(f"{source}: '{group}.p_hi' must exceed '{group}.p_lo'")
    for kind in KINDS:
        if cfg["iterations"][kind] % cfg["epochs"]:
            raise ParamError(f"{source}: '{group}.epochs' ({cfg['epochs']}) must divide "
                             f"'{group}.iterations.{kind}' ({cfg['iterations'][kind]})")
    return cfg


def checked_dataset(name, group, source="params.yaml") -> str:
    """The input-set name of this matrix entry (from `<group>.datasets`), if scl can read it.

    The stage does not read the list itself, so adding a dataset leaves the others up to date.
    """
    try:
        scl.parse_input_set(name)
    except ValueError as err:
        raise ParamError(f"{source}: '{group}.datasets': {err}") from None
    return name


# ------------------------------------------------------------------------------ data

def load_catalog(target, prepared=PREPARED):
    """Prepared catalogue, the images memmap, and the target with nulls as NaN."""
    cat = pd.read_parquet(Path(prepared) / "catalog.parquet")
    if target not in cat.columns:
        raise ParamError(f"{prepared}/catalog.parquet has no target column {target!r}")
    images = np.load(Path(prepared) / "images.npy", mmap_mode="r")
    y = cat[target].to_numpy(dtype=np.float64)
    return cat, images, np.where(is_null(y), np.nan, y)


def split_masks(cat, y) -> dict:
    """Rows of each split that have a known target (a null target cannot be binned)."""
    known = np.isfinite(y)
    return {s: (cat["split"] == s).to_numpy() & known for s in SPLITS}


# ------------------------------------------------------------------------------ training

def build_model(name, main, add, cfg, mi_only):
    return scl.SCLModel(main.shape[1:], add.shape[1], bins=cfg["bins"], y_min=cfg["y_min"], y_max=cfg["y_max"],
                        m=cfg["m"], e=cfg.get("e"), coeff_recon=cfg.get("coeff_recon"), width=cfg["width"],
                        mi_only=mi_only, seed=cfg["seed"], name=f"{'mi' if mi_only else 'scl'}_{_safe(name)}")


def log_prior(y, edges, smoothing) -> np.ndarray:
    """Log of the histogram of y over the bins, Gaussian-smoothed by `smoothing` (units of y) and
    floored so that no bin is impossible."""
    from scipy.ndimage import gaussian_filter1d

    bins = len(edges) - 1
    counts = np.bincount(scl.to_bin(y, edges), minlength=bins).astype(np.float64)
    if smoothing > 0:
        counts = gaussian_filter1d(counts, smoothing / (edges[1] - edges[0]), mode="constant")
    prior = counts / counts.sum() + 1e-3 / bins
    return np.log(prior / prior.sum())


def start_at_prior(model, y_train, edges, smoothing) -> None:
    """Set the estimator's output bias to the log prior of the training targets.

    An untrained model then predicts the marginal distribution of y instead of a random one, so
    the first iterations learn how y depends on the input rather than where y lies; with a short
    training budget this matters (the study, with 180 000 iterations, starts at random).
    """
    model.estimator.layers[-1].bias.assign(log_prior(y_train, edges, smoothing).astype(np.float32))


def _safe(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def train_and_infer(name, cfg, mi_only, out_dir, stage, prepared=PREPARED) -> dict:
    """Train the model of input set `name`, infer on every galaxy and write `out_dir` (atomically,
    summary.json included); return that summary: settings, timing and per-split metrics."""
    set_seeds(cfg["seed"])
    cat, images, y = load_catalog(cfg["target"], prepared)
    masks = split_masks(cat, y)
    train, val = masks["train"], masks["validation"]
    stats = scl.fit_input_stats(name, cat, train=train, p_lo=cfg["p_lo"], p_hi=cfg["p_hi"])
    main, add = scl.dataset_inputs(name, cat, images, stats)
    kind = "image" if main.ndim == 4 else "photometry"
    iterations, batch = cfg["iterations"][kind], cfg["batch_size"][kind]
    edges = scl.bin_edges(cfg["bins"], cfg["y_min"], cfg["y_max"])
    model = build_model(name, main, add, cfg, mi_only)
    if cfg["prior_smoothing"] is not None:
        start_at_prior(model, y[train], edges, cfg["prior_smoothing"])
    model.compile(optimizer=scl.scl_optimizer(iterations, cfg["lr"], cfg["lr_drop_fraction"], cfg["lr_drop_factor"]))
    train_ds = scl.train_dataset(main[train], add[train], y[train], edges, batch, pairs=not mi_only, seed=cfg["seed"])
    val_ds = scl.eval_dataset(main[val], add[val], y[val], edges, cfg["infer_batch_size"]) if val.any() else None
    log.info("%s@%s: %s set, main %s + %d additional; %d training / %d validation galaxies; "
             "%d iterations of %s%d galaxies%s", stage, name, kind, main.shape[1:], add.shape[1], train.sum(),
             val.sum(), iterations, "" if mi_only else "2×", batch,
             f", width {cfg['width']}" if kind == "image" else "")
    timer = Throughput()
    # keep_best: the weights of the epoch with the lowest validation cross-entropy (a short run
    # on a small sample overfits late); the test split stays untouched by this choice.
    best = keras.callbacks.EarlyStopping("val_ce", mode="min", patience=cfg["epochs"], restore_best_weights=True)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        callbacks = [keras.callbacks.CSVLogger(str(tmp / "training_log.csv")), timer]
        model.fit(train_ds, epochs=cfg["epochs"], steps_per_epoch=iterations // cfg["epochs"],
                  validation_data=val_ds, verbose=2, callbacks=callbacks + ([best] if cfg["keep_best"] and val_ds else []))
        start = time.perf_counter()
        out = scl.infer(model, main, add, cfg["infer_batch_size"])
        infer_seconds = time.perf_counter() - start
        table = prediction_table(cat, y, out, edges)
        table.to_parquet(tmp / "predictions.parquet", index=False)
        np.save(tmp / "latent.npy", out["latent"].astype(np.float32))
        np.save(tmp / "p.npy", out["p"].astype(np.float16))  # half precision: 2 bytes × bins per galaxy
        model.save(tmp / "model.keras")
        (tmp / "input_stats.json").write_text(json.dumps(stats, indent=2))
        summary = {"dataset": name, "mi_only": mi_only, "kind": kind,
                   **{k: cfg[k] for k in ("target", "bins", "y_min", "y_max", "seed", "lr", "prior_smoothing")},
                   "width": cfg["width"] if kind == "image" else None, "iterations": iterations, "batch_size": batch,
                   "kept_epoch": best.best_epoch + 1 if cfg["keep_best"] and val_ds else cfg["epochs"],
                   "train_seconds": sum(timer.seconds), "first_epoch_seconds": timer.seconds[0],
                   "seconds_per_step": timer.seconds_per_step,
                   "infer_galaxies_per_second": len(y) / infer_seconds,
                   "splits": split_metrics(table, out["p"], masks, edges)}
        write_json(tmp / "summary.json", summary)
    log.info("%s@%s: trained in %.0f s (%.3f s/step after the first epoch), inferred %.0f galaxies/s", stage, name,
             summary["train_seconds"], summary["seconds_per_step"], summary["infer_galaxies_per_second"])
    for split, m in summary["splits"].items():
        log.info("%s@%s %s: σ_MAD %.3f, bias %+.3f, η %.3f (mean estimate), CRPS %.3f, cross-entropy %.2f, n %d",
                 stage, name, split, m["mean"]["sigma_mad"], m["mean"]["bias"], m["mean"]["eta"], m["crps"],
                 m["cross_entropy"], m["n"])
    return summary


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
