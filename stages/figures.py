"""Stage figures: every study's figures (SPEC §9) rendered from the stages' outputs into out/figures/."""
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import get_logger, load_params, require
from galaxy_xai.params import MORPHOLOGY_MODELS
from galaxy_xai.models.sfnet_training import centre_crop
from galaxy_xai.plots import mi as mi_plots
from galaxy_xai.plots import sfnet as sfnet_plots
from galaxy_xai.plots import morphology as morph_plots
from galaxy_xai.plots import stellar_mass as sm_plots
from galaxy_xai.plots import trim as trim_plots
from galaxy_xai.xai import sfnet_features as sf
from galaxy_xai.xai.smoothgrad import smoothgrad

log = get_logger("stage.figures")


def morphology_figures(params, out: Path, source):
    n_samples = require(params, "figures.n_sample_galaxies", int, lambda v: v > 0, "a positive integer", source)
    classes = require(params, "figures.heatmap_classes", list, lambda v: all(c in VOTE_COLUMNS for c in v), "a list of vote columns", source)
    logs = {m: pd.read_csv(f"out/morphology/{m}/training_log.csv") for m in MORPHOLOGY_MODELS}
    morph_plots.learning_curves(logs, out / "morphology_learning_curves.png")
    # Class heatmaps for a few sample galaxies, from the Xception model (the study's figure).
    cat = pd.read_parquet("out/prepared/galaxy_zoo/catalog.parquet")
    images = np.load("out/prepared/galaxy_zoo/images.npy", mmap_mode="r")
    rows = cat.loc[cat["split"] == "validation", "row"].to_numpy()[:n_samples]
    x = np.asarray(images[rows], dtype=np.float32) / 255.0
    model = keras.models.load_model("out/morphology/xception/model.keras")
    samples = require(params, "xai.smooth_samples", int, source=source)
    noise = float(require(params, "xai.smooth_noise", (int, float), source=source))
    maps = {c: smoothgrad(model, x, VOTE_COLUMNS.index(c), samples, noise, 128, seed=0) for c in classes}
    morph_plots.class_heatmaps(x, maps, out / "morphology_class_heatmaps.png")
    # Bar heatmaps with the measured bar, for the chosen mode's single-model maps.
    metrics = json.loads(Path("out/metrics/barlength.json").read_text())
    cell = metrics["chosen_cell"]
    model_for_maps = cell["mode"] if cell["mode"] in MORPHOLOGY_MODELS else "xception"
    hm = np.load(f"out/heatmaps/{model_for_maps}/heatmaps.npy")[:8].astype(np.float32)
    index = pd.read_parquet(f"out/heatmaps/{model_for_maps}/index.parquet").iloc[:8]
    bar_images = np.load("out/prepared/galaxy_zoo/bar_images.npy", mmap_mode="r")
    titles = [f"objid …{str(o)[-5:]}" for o in index["objid"]]
    morph_plots.bar_overlays(np.asarray(bar_images[index["row"].to_numpy()]), hm, cell["corr_threshold"], int(cell["len_threshold"]),
                             titles, out / "bar_heatmaps.png")
    lengths = pd.read_csv("out/barlength_test/lengths.csv")
    morph_plots.length_scatter(lengths[lengths["split"] == "test"], out / "bar_lengths.png", title=metrics["chosen"])


def load_trim(folder: Path) -> dict:
    """One trim@<name> output: curves.json, per-image normalised scores, sample table, band images."""
    curves = json.loads((folder / "curves.json").read_text())
    scores = np.load(folder / "scores.npz")
    return {"curves": curves, "normalised": {m: scores[f"normalised_{m}"] for m in curves["methods"]},
            "sample": pd.read_parquet(folder / "sample.parquet"), "bands": np.load(folder / "bands_example.npy")}


def trim_figures(out: Path, root=Path("out/trim"), validate=Path("out/trim_validate"), metrics=Path("out/metrics/trim_validate.json")):
    """Band curves per model (paper Fig. 3), curves by property (Fig. 4), the known-band validation."""
    order = list(MORPHOLOGY_MODELS)  # the morphology CNNs first, then the rest (SFNet) by name
    names = sorted((p.parent.name for p in root.glob("*/curves.json")), key=lambda n: (order.index(n) if n in order else len(order), n))
    studies = {name: load_trim(root / name) for name in names}
    for name, study in studies.items():
        trim_plots.band_curves(study, out / f"trim_{name}.png")
    trim_plots.curves_by_property(studies, out / "trim_by_property.png")
    trim_plots.validation(json.loads(metrics.read_text()), json.loads((validate / "datasets.json").read_text())["datasets"],
                          out / "trim_validate.png")


def _first_split(splits: dict) -> str:
    """The test split, else the validation one (a tiny run may lack a split)."""
    return next(s for s in ("test", "validation", "train") if s in splits)


def stellar_mass_figures(params, out: Path, source, scl_root=Path("out/scl"), tests_root=Path("out/local_tests")):
    """SCL estimates against the catalogue mass, and local corr against its permuted null."""
    datasets = require(params, "scl.datasets", list, source=source)
    query = require(params, "local_tests.query", str, source=source)
    condition = require(params, "local_tests.condition", str, source=source)
    tables = {d: pd.read_parquet(scl_root / d / "predictions.parquet") for d in datasets}
    splits = {d: json.loads((scl_root / d / "summary.json").read_text())["splits"] for d in datasets}
    split = _first_split(splits[datasets[0]])
    scores = {d: splits[d][split]["mean"] for d in datasets if split in splits[d]}
    target = require(params, "scl.target", str, source=source)
    sm_plots.estimates_vs_truth(tables, scores, out / "scl_estimates.png", split=split,
                                mass_label=f"catalogue {target} (= true log M* when simulated)")
    tests = {d: pd.read_parquet(tests_root / d / "tests.parquet") for d in datasets}
    sm_plots.corr_vs_null(tests, out / "local_tests_corr.png", query, condition, split=split)


def mi_figures(params, out: Path, source, root=Path("out/mi/decompose")):
    """Mean information components of every configured pair."""
    pairs = require(params, "mi.pairs", list, source=source)
    splits = {p: json.loads((root / p / "summary.json").read_text())["splits"] for p in pairs}
    split = _first_split(splits[pairs[0]])
    mi_plots.stacked_components({p: splits[p][split] for p in pairs}, out / "mi_components.png", split=split)


def sfnet_figures(params, out: Path, source, root=Path("out/sfnet"), prepared=Path("out/prepared/sdss")):
    """BPT diagram coloured by each top feature with its top galaxies, the head's equations, and
    SFNet vs PCA RMSE over k, from what sfnet_features and sfnet_compare saved."""
    crop = require(params, "sfnet.crop", int, lambda v: v > 0, "a positive integer", source)
    catalog = pd.read_parquet(prepared / "catalog.parquet").set_index("objID")
    catalog.index = catalog.index.astype(str)
    images = centre_crop(np.load(prepared / "images.npy", mmap_mode="r"), crop)  # what the nets saw
    blocks = []
    for target in ("metallicity", "lines"):
        record = json.loads((root / "features" / f"{target}.json").read_text())
        fig = np.load(root / "features" / f"figure_{target}.npz")
        cat = catalog.reindex(fig["objID"])
        bpt_x, bpt_y = sf.bpt_ratios(cat["log_N2"], cat["log_Ha"], cat["log_O3"], cat["log_Hb"])
        scaled = sf.scale_activations(fig["acts"], fig["scale"])
        names, firsts = record["names"], []
        for j, name, rows in zip(fig["top"], names, fig["top_rows"]):
            thumbs = [images[r] for r in rows if r >= 0]
            sfnet_plots.bpt_feature(out / f"bpt_{target}_{name}.png", name, bpt_x, bpt_y, scaled[:, j], fig["freq"][j], thumbs)
            firsts.append(thumbs[0] if thumbs else None)
        eq = record["equation"]
        coef = np.array([eq["coef"][n] for n in names]).reshape(len(names), -1)
        blocks.append({"names": names, "images": firsts,
                       "equations": [(col, eq["intercept"][o], coef[:, o]) for o, col in enumerate(record["columns"])]})
    sfnet_plots.equations(out / "sfnet_equations.png", blocks)
    sfnet_plots.rmse_vs_k(out / "sfnet_vs_pca.png", json.loads((root / "compare" / "curves.json").read_text()))


def main(params_path="params.yaml", out_dir="out/figures"):
    params = load_params(params_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log.info("rendering figures into %s", out)
    morphology_figures(params, out, params_path)
    sfnet_figures(params, out, params_path)
    trim_figures(out)
    stellar_mass_figures(params, out, params_path)
    mi_figures(params, out, params_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
