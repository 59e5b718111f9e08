"""Every study's figures (SPEC §9), drawn from the stages' outputs into one folder."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_xai import layout, runtime
from galaxy_xai.data.images import centre_crop
from galaxy_xai.data.lines import bpt_ratios
from galaxy_xai.domain import BACKBONES, SFNET_TARGETS, VOTE_COLUMNS
from galaxy_xai.plots import common
from galaxy_xai.plots import mi as mi_plots
from galaxy_xai.plots import morphology as morph_plots
from galaxy_xai.plots import sfnet as sfnet_plots
from galaxy_xai.plots import stellar_mass as sm_plots
from galaxy_xai.plots import trim as trim_plots
from galaxy_xai.xai import sfnet_features as sf
from galaxy_xai.xai.smoothgrad import smoothgrad

log = runtime.logger("figures")
N_BAR_OVERLAYS = 8  # bar heatmaps drawn with their measured bar


def draw_all(cfg, xai, sfnet, scl, local_tests, mi, out: Path) -> None:
    """Every figure, from the configs of the groups they depend on."""
    common.start()
    out.mkdir(parents=True, exist_ok=True)
    log.info("rendering figures into %s", out)
    morphology_figures(cfg, xai, out)
    sfnet_figures(sfnet, out)
    trim_figures(out)
    stellar_mass_figures(scl, local_tests, out)
    mi_figures(mi, out)


def morphology_figures(cfg, xai, out: Path) -> None:
    """Learning curves, class heatmaps of a few galaxies (Xception, the study's figure), bar
    heatmaps with the measured bar for the chosen mode, and measured vs catalogue lengths."""
    logs = {m: pd.read_csv(layout.morphology(m).need("training_log")) for m in BACKBONES}
    morph_plots.learning_curves(logs, out / "morphology_learning_curves.png")
    gz = layout.prepared("galaxy_zoo")
    cat = gz.read_catalog(["split", "row"])
    rows = cat.loc[cat["split"] == "validation", "row"].to_numpy()[: cfg.n_sample_galaxies]
    x = layout.unit_images(gz.read_images()[rows])
    model = keras.models.load_model(layout.morphology("xception").need("model"))
    maps = {c: smoothgrad(model, x, VOTE_COLUMNS.index(c), xai.smooth_samples, xai.smooth_noise, 128, seed=0)
            for c in cfg.heatmap_classes}
    morph_plots.class_heatmaps(x, maps, out / "morphology_class_heatmaps.png")
    metrics = layout.read_metrics("barlength", "barlength_test")
    cell = metrics["chosen_cell"]
    maps_of = layout.heatmaps(cell["mode"] if cell["mode"] in xai.backbones else xai.backbones[-1])  # averages: the last
    hm = maps_of.read_npy("heatmaps")[:N_BAR_OVERLAYS].astype(np.float32)
    index = maps_of.read_parquet("index").iloc[:N_BAR_OVERLAYS]
    titles = [f"objid …{str(o)[-5:]}" for o in index["objid"]]
    morph_plots.bar_overlays(np.asarray(gz.read_images("bar_images")[index["row"].to_numpy()]), hm,
                             cell["corr_threshold"], int(cell["len_threshold"]), titles, out / "bar_heatmaps.png")
    lengths = pd.read_csv(layout.barlength_test().need("lengths"))
    morph_plots.length_scatter(lengths[lengths["split"] == "test"], out / "bar_lengths.png", title=metrics["chosen"])


def sfnet_figures(sfnet, out: Path) -> None:
    """BPT diagram coloured by each top feature with its top galaxies, the head's equations, and
    SFNet vs PCA RMSE over k, from what sfnet_features and sfnet_compare saved."""
    sdss = layout.prepared("sdss")
    catalog = sdss.read_catalog().set_index("objID")
    catalog.index = catalog.index.astype(str)
    images = centre_crop(sdss.read_images(), sfnet.crop)  # what the nets saw
    features = layout.sfnet_features()
    blocks = []
    for target in SFNET_TARGETS:
        record = features.read_json(f"record_{target}")
        fig = np.load(features.need(f"figure_{target}"))
        cat = catalog.reindex(fig["objID"])
        bpt_x, bpt_y = bpt_ratios(cat["log_N2"], cat["log_Ha"], cat["log_O3"], cat["log_Hb"])
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
    sfnet_plots.rmse_vs_k(out / "sfnet_vs_pca.png", layout.sfnet_compare().read_json("curves"))


def load_trim(folder: layout.Trim) -> dict:
    """One trim@<name> output: curves, per-image normalised scores, sample table, band images."""
    curves = folder.read_json("curves")
    scores = np.load(folder.need("scores"))
    return {"curves": curves, "normalised": {m: scores[f"normalised_{m}"] for m in curves["methods"]},
            "sample": folder.read_parquet("sample"), "bands": folder.read_npy("bands_example")}


def trim_figures(out: Path) -> None:
    """Band curves per model (paper Fig. 3), curves by property (Fig. 4), the known-band validation."""
    order = list(BACKBONES)  # the morphology CNNs first, then the rest (SFNet) by name
    names = sorted(layout.trim_names(), key=lambda n: (order.index(n) if n in order else len(order), n))
    studies = {name: load_trim(layout.trim(name)) for name in names}
    for name, study in studies.items():
        trim_plots.band_curves(study, out / f"trim_{name}.png")
    trim_plots.curves_by_property(studies, out / "trim_by_property.png")
    trim_plots.validation(layout.read_metrics("trim_validate", "trim_validate"),
                          layout.trim_validate().read_json("datasets")["datasets"], out / "trim_validate.png")


def _first_split(splits: dict) -> str:
    """The test split, else the validation one (a tiny run may lack a split)."""
    return next(s for s in ("test", "validation", "train") if s in splits)


def stellar_mass_figures(scl, local_tests, out: Path) -> None:
    """SCL estimates against the catalogue mass, and local corr against its permuted null."""
    tables = {d: layout.scl(d).read_parquet("predictions") for d in scl.datasets}
    splits = {d: layout.scl(d).read_json("summary")["splits"] for d in scl.datasets}
    split = _first_split(splits[scl.datasets[0]])
    scores = {d: splits[d][split]["mean"] for d in scl.datasets if split in splits[d]}
    sm_plots.estimates_vs_truth(tables, scores, out / "scl_estimates.png", split=split,
                                mass_label=f"catalogue {scl.target} (= true log M* when simulated)")
    tests = {d: layout.local_tests(d).read_parquet("tests") for d in scl.datasets}
    sm_plots.corr_vs_null(tests, out / "local_tests_corr.png", local_tests.query, local_tests.condition, split=split)


def mi_figures(mi, out: Path) -> None:
    """Mean information components of every configured pair."""
    splits = {p: layout.mi_decompose(p).read_json("summary")["splits"] for p in mi.pairs}
    split = _first_split(splits[mi.pairs[0]])
    mi_plots.stacked_components({p: splits[p][split] for p in mi.pairs}, out / "mi_components.png", split=split)
