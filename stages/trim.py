"""Stage trim@<name>: which radial Fourier bands a trained model relies on (SPEC §8, TRIM).

Usage: trim.py <name> <model folder> <galaxy_zoo|sdss>

The folder holds model.keras; an SFNet folder also holds its target scaling (SCALING_FILE,
{"mean": [...], "std": [...]}), which maps its standardised output back to 12 + log(O/H).

Explains `trim.n_images` validation images: the bar vote (`trim.output`) of a morphology CNN on
Galaxy Zoo, or the metallicity of SFNet on SDSS. Per image and band it scores each method in
`trim.methods`, divides by the prediction f(x) as the paper does, and averages the curves over all
images and per group (barred / unbarred from the truth table; bins of catalogue metallicity).
Images with |f(x)| below `trim.min_prediction_ratio` × the sample's mean |f(x)| are left out of
the normalised curves (the ratio explodes near f = 0); their raw scores are kept.

Outputs in out/trim/<name>/: sample.parquet (id, row, prediction, property, group, normalised),
scores.npz (raw_<method> and normalised_<method>, [n, n_bands]), curves.json (band edges, mean
curves overall and per group), bands_example.npy (the first image's band components, for the
figure); summary metrics in out/metrics/trim_<name>.json.
"""
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from scipy import stats

import galaxy_xai.models.sfnet  # noqa: F401  registers TopK for loading SFNet models
from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import ParamError, atomic_path, check_known, get_logger, is_null, load_params, require, write_json
from galaxy_xai.xai import trim
from galaxy_xai.xai import trim_study as ts

log = get_logger("stage.trim")
FAMILIES = ("galaxy_zoo", "sdss")
SCALING_FILE = "standardiser.json"  # written by train_sfnet
KEYS = ("output", "methods", "n_bands", "n_images", "steps", "batch_size", "min_prediction_ratio",
        "n_property_bins", "seed", "validate")


def settings(params, source):
    check_known(params, "trim", KEYS, source)
    pos = lambda v: v > 0  # noqa: E731
    return dict(
        output=require(params, "trim.output", str, lambda v: v in VOTE_COLUMNS, "a vote column such as Class3.1", source),
        methods=require(params, "trim.methods", list, lambda v: v and all(m in trim.METHODS for m in v), f"a non-empty list from {list(trim.METHODS)}", source),
        n_bands=require(params, "trim.n_bands", int, lambda v: v >= 2, "an integer >= 2", source),
        n_images=require(params, "trim.n_images", int, pos, "a positive integer", source),
        steps=require(params, "trim.steps", int, pos, "a positive integer", source),
        batch_size=require(params, "trim.batch_size", int, pos, "a positive integer", source),
        min_prediction_ratio=float(require(params, "trim.min_prediction_ratio", (int, float), lambda v: 0 <= v <= 1, "a number in [0, 1]", source)),
        n_property_bins=require(params, "trim.n_property_bins", int, lambda v: v >= 2, "an integer >= 2", source),
        seed=require(params, "trim.seed", int, source=source),
        truth=require(params, "data.truth", (str, type(None)), source=source),
    )


def galaxy_zoo_sample(cfg, prepared: Path) -> tuple[pd.DataFrame, int, str]:
    """Validation galaxies, their bar truth (if any) as the property; output = the bar vote."""
    cat = pd.read_parquet(prepared / "catalog.parquet", columns=["GalaxyID", "split", "row"])
    sample = cat.iloc[ts.select_rows(cat["split"] == "validation", cfg["n_images"], cfg["seed"])]
    sample = sample.rename(columns={"GalaxyID": "id"})[["id", "row"]].reset_index(drop=True)
    if cfg["truth"] is None:
        log.info("data.truth is null: no barred / unbarred split")
        sample["property"], sample["group"] = np.nan, None
    else:
        truth = pd.read_parquet(cfg["truth"], columns=["GalaxyID", "has_bar"])
        sample = sample.merge(truth.rename(columns={"GalaxyID": "id", "has_bar": "property"}), on="id", how="left")
        sample["group"] = ts.bar_groups(sample["property"])
        sample["property"] = sample["property"].astype(float)
    return sample, VOTE_COLUMNS.index(cfg["output"]), "has_bar (truth)"


def sdss_sample(cfg, prepared: Path) -> tuple[pd.DataFrame, int, str]:
    """Validation galaxies with a metallicity; property = catalogue 12 + log(O/H), in bins."""
    cat = pd.read_parquet(prepared / "catalog.parquet", columns=["objID", "oh_p50", "in_metallicity", "split", "row"])
    eligible = (cat["split"] == "validation") & cat["in_metallicity"] & ~is_null(cat["oh_p50"].to_numpy())
    sample = cat.iloc[ts.select_rows(eligible, cfg["n_images"], cfg["seed"])]
    sample = sample.rename(columns={"objID": "id", "oh_p50": "property"})[["id", "row", "property"]].reset_index(drop=True)
    sample["group"] = ts.quantile_groups(sample["property"], cfg["n_property_bins"])
    return sample, 0, "12 + log(O/H) (catalogue)"


def explain(model, x, output_index, cfg):
    """Raw scores [n, n_bands] per method, and each method's seconds per image."""
    masks = trim.radial_band_masks(x.shape[1], x.shape[2], cfg["n_bands"])
    raw, seconds = {}, {}
    for method in cfg["methods"]:
        start = time.perf_counter()
        raw[method] = trim.band_importance(model, x, output_index, masks, method, cfg["steps"], cfg["batch_size"])
        seconds[method] = (time.perf_counter() - start) / len(x)
        log.info("%s: %.2f s per image", method, seconds[method])
    return raw, seconds


def output_scaling(model_dir: Path, family: str) -> tuple[float, float]:
    """(mean, std) that map the model's output to physical units. SFNet is trained on standardised
    targets (its f(x) is near 0, so f/f would be meaningless): its scaling is read from the model
    folder; the morphology vote fractions are used as they are."""
    if family != "sdss":
        return 0.0, 1.0
    path = model_dir / SCALING_FILE
    if not path.is_file():
        raise ParamError(f"{path}: target scaling of the SFNet model not found")
    scaling = json.loads(path.read_text())
    return float(scaling["mean"][0]), float(scaling["std"][0])


def load_sample(cfg, family, prepared: Path, input_size):
    """The explained images (float32 in [0, 1], centre-cropped to the model's input size) and
    their table, output index and property name."""
    if family not in FAMILIES:
        raise ParamError(f"data family must be one of {list(FAMILIES)}, got {family!r}")
    sample, output_index, property_name = (galaxy_zoo_sample if family == "galaxy_zoo" else sdss_sample)(cfg, prepared)
    images = ts.centre_crop(np.load(prepared / "images.npy", mmap_mode="r"), *input_size)
    x = np.asarray(images[sample["row"].to_numpy()], dtype=np.float32) / 255.0
    return x, sample, output_index, property_name


def completeness_gap(model, x, output_index, ig_zero, predictions, mean, std) -> float:
    """Σ_b IG_b = f(x) − f(0) up to the quadrature: the relative gap says whether trim.steps suffices."""
    f0 = trim.predict_output(model, np.zeros_like(x[:1]), output_index)[0] * std + mean
    delta = predictions - f0
    return float(np.abs(ig_zero.sum(axis=1) - delta).mean() / max(np.abs(delta).mean(), 1e-12))


def summarise(sample, raw, normalised, seconds, extra) -> tuple[dict, dict]:
    """curves.json content and the scalar metrics."""
    kept = sample["normalised"].to_numpy()
    curves, metrics = {}, {"n_images": len(sample), "n_normalised": int(kept.sum()),
                           "mean_prediction": float(sample["prediction"].mean()), "methods": {}}
    if not kept.any():
        raise ParamError("trim: every explained image has f(x) = 0; nothing to normalise by")
    for method in raw:
        mean = normalised[method][kept].mean(axis=0)
        groups = ts.group_curves(normalised[method], sample["group"].to_numpy())
        curves[method] = {"mean": mean.tolist(), "mean_raw": raw[method].mean(axis=0).tolist(),
                          "groups": {g: {"mean": m.tolist(), "n": n} for g, (m, n) in groups.items()}}
        metrics["methods"][method] = {**ts.curve_summary(mean), "seconds_per_image": seconds[method],
                                      "peak_band_by_group": {g: int(np.argmax(np.abs(m))) for g, (m, _) in groups.items()}}
    methods = list(raw)
    metrics["agreement_spearman"] = {
        f"{a}~{b}": float(stats.spearmanr(curves[a]["mean"], curves[b]["mean"])[0])
        for i, a in enumerate(methods) for b in methods[i + 1:]}
    metrics.update(extra)
    return curves, metrics


def main(name, model_dir, family, params_path="params.yaml", prepared_root="out/prepared",
         out_root="out/trim", metrics_root="out/metrics"):
    params = load_params(params_path)
    cfg = settings(params, params_path)
    model = keras.models.load_model(Path(model_dir) / "model.keras", compile=False)
    x, sample, output_index, property_name = load_sample(cfg, family, Path(prepared_root) / family, model.input_shape[1:3])
    mean, std = output_scaling(Path(model_dir), family)
    log.info("%s: TRIM of output %d over %d bands for %d images (%s)", name, output_index, cfg["n_bands"], len(x), ", ".join(cfg["methods"]))

    model = trim.ModelOutput(model, output_index)  # traced once, used by every call below
    raw, seconds = explain(model, x, output_index, cfg)
    # Scores are differences of f: they scale by std only, while the prediction also shifts by mean.
    raw = {m: r * std for m, r in raw.items()}
    sample["prediction"] = trim.predict_output(model, x, output_index, cfg["batch_size"]) * std + mean
    normalised = {}
    for m in raw:
        normalised[m], sample["normalised"], threshold = ts.normalise_guarded(raw[m], sample["prediction"], cfg["min_prediction_ratio"])
    extra = {"output_index": output_index, "min_prediction": threshold, "output_scaling": [mean, std]}
    if "integrated_gradients_zero" in raw:
        extra["ig_zero_completeness_gap"] = completeness_gap(model, x, output_index, raw["integrated_gradients_zero"],
                                                             sample["prediction"].to_numpy(), mean, std)
    curves, metrics = summarise(sample, raw, normalised, seconds, extra)
    curves = {"name": name, "family": family, "output_index": output_index, "property": property_name,
              "min_prediction": threshold, "steps": cfg["steps"],
              "band_edges": ts.band_edges(x.shape[1], x.shape[2], cfg["n_bands"]).tolist(), "methods": curves}
    masks = trim.radial_band_masks(x.shape[1], x.shape[2], cfg["n_bands"])
    with atomic_path(Path(out_root) / name) as tmp:
        tmp.mkdir()
        sample.assign(id=sample["id"].astype(str)).to_parquet(tmp / "sample.parquet", index=False)
        np.savez(tmp / "scores.npz", **{f"raw_{m}": raw[m] for m in raw}, **{f"normalised_{m}": normalised[m] for m in raw})
        write_json(tmp / "curves.json", curves)
        np.save(tmp / "bands_example.npy", np.asarray(trim.band_components(x[:1], masks))[0].astype(np.float16))
    write_json(Path(metrics_root) / f"trim_{name}.json", metrics)
    log.info("%s: peak bands %s", name, {m: v["peak_band"] for m, v in metrics["methods"].items()})


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
