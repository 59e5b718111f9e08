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
from galaxy_xai.plots import morphology as morph_plots
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


def main(params_path="params.yaml", out_dir="out/figures"):
    params = load_params(params_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log.info("rendering figures into %s", out)
    morphology_figures(params, out, params_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
