"""Tests of the TRIM study (galaxy_xai.studies.trim): its helpers, the trim@<name> and
trim_validate stage functions on tiny prepared folders, and the TRIM figures."""
import dataclasses
import json

import keras
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from galaxy_xai import layout
from galaxy_xai.config import trim as trim_config
from galaxy_xai.data.images import centre_crop
from galaxy_xai.domain import VOTE_COLUMNS
from galaxy_xai.errors import ParamError, StaleOutputError
from galaxy_xai.plots import common
from galaxy_xai.plots import trim as trim_plots
from galaxy_xai.studies import trim as study
from galaxy_xai.xai import trim


def test_select_rows_is_a_seeded_sorted_subset_of_eligible_rows():
    eligible = np.arange(100) % 3 == 0
    rows = study.select_rows(eligible, 10, seed=1)
    assert len(rows) == 10 and np.all(np.diff(rows) > 0) and eligible[rows].all()
    np.testing.assert_array_equal(rows, study.select_rows(eligible, 10, seed=1))
    assert not np.array_equal(rows, study.select_rows(eligible, 10, seed=2))
    np.testing.assert_array_equal(study.select_rows(eligible, 1000, seed=1), np.flatnonzero(eligible))


def test_centre_crop_keeps_the_middle():
    images = np.arange(2 * 6 * 5 * 1).reshape(2, 6, 5, 1)
    crop = centre_crop(images, 2, 3)
    np.testing.assert_array_equal(crop[0, :, :, 0], images[0, 2:4, 1:4, 0])
    assert centre_crop(images, 6, 5).shape == images.shape
    with pytest.raises(ValueError):
        centre_crop(images, 7, 5)


@pytest.mark.parametrize("height,width", [(16, 16), (15, 12)])
def test_band_edges_bound_each_mask(height, width):
    masks = trim.radial_band_masks(height, width, 5)
    edges = study.band_edges(height, width, 5)
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    assert len(edges) == 6 and edges[0] == 0 and np.isclose(edges[-1], radius.max())
    for b, mask in enumerate(masks):
        r = radius[mask > 0]
        assert r.min() >= edges[b] - 1e-12 and r.max() <= edges[b + 1] + 1e-12


def test_normalise_guarded_divides_and_drops_near_zero_predictions():
    scores = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out, kept, threshold = study.normalise_guarded(scores, np.array([1.0, 0.01, -0.49]), min_ratio=0.25)
    assert np.isclose(threshold, 0.125)  # a quarter of the mean |f|, 0.5
    np.testing.assert_array_equal(kept, [True, False, True])
    np.testing.assert_allclose(out[0], [1.0, 2.0])
    assert np.isnan(out[1]).all()
    np.testing.assert_allclose(out[2], [-5 / 0.49, -6 / 0.49])
    _, kept, _ = study.normalise_guarded(scores, np.zeros(3), min_ratio=0.0)
    assert not kept.any()  # f = 0 is never divided by


def test_group_curves_skip_nan_rows_and_missing_groups():
    curves = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan], [10.0, 10.0], [7.0, 7.0]])
    groups = np.array(["a", "a", "a", "b", None], object)
    out = study.group_curves(curves, groups)
    assert set(out) == {"a", "b"}
    np.testing.assert_allclose(out["a"][0], [2.0, 3.0])
    assert out["a"][1] == 2 and out["b"][1] == 1


def test_bar_groups_from_truth_flag():
    groups = study.bar_groups(pd.Series([True, False, None], dtype=object))
    assert list(groups) == ["barred", "unbarred", None]


def test_quantile_groups_make_equal_ordered_bins():
    values = np.array([9.3, 8.1, 8.5, np.nan, 8.9, 9.1, 8.3])
    groups = study.quantile_groups(values, 3)
    assert groups[3] is None
    labels = sorted(set(groups[~pd.isna(groups)]), key=lambda s: float(s[1:].split(",")[0]))
    assert len(labels) == 3
    counts = [int(np.sum(groups == g)) for g in labels]
    assert counts == [2, 2, 2]
    # Lower values in lower bins.
    assert groups[1] == labels[0] and groups[0] == labels[2]


def test_curve_summary_peak_is_largest_in_size():
    summary = study.curve_summary([0.1, -0.5, 0.3])
    assert summary["peak_band"] == 1 and summary["peak_value"] == -0.5
    assert np.isclose(summary["sum"], -0.1)


@pytest.mark.parametrize("errors,n", [(0, 20), (1, 20), (3, 50), (0, 500)])
def test_binomial_upper_leaves_five_percent_in_the_lower_tail(errors, n):
    p = study.binomial_upper(errors, n)
    assert errors / n < p < 1
    assert np.isclose(stats.binom.cdf(errors, n, p), 0.05, atol=1e-6)


def test_binomial_upper_zero_errors_in_twenty_cannot_separate_the_paper_rates():
    assert np.isclose(study.binomial_upper(0, 20), 1 - 0.05 ** (1 / 20))
    assert study.binomial_upper(0, 20) > 0.042
    assert study.binomial_upper(5, 5) == 1.0


def test_margin_of_the_true_band():
    assert np.isclose(study.margin([0.2, 1.0, 0.5], 1), 0.5)
    assert study.margin([0.2, 1.0, 0.5], 2) < 0  # the true band is not first


def test_error_metrics_in_percent_with_bounds():
    result = {"aggregate": "mean_abs",
              "methods": {"knockout": {"errors": 1, "n_datasets": 4, "error_rate": 0.25, "stderr": 0.2165,
                                       "seconds_per_dataset": 0.1}},
              "datasets": [{"accuracy": a, "target_band": 0, "curve_mean_abs": {"knockout": [1.0, c, 0.1]}}
                           for a, c in ((0.8, 0.5), (0.9, 0.2), (0.7, 1.5), (1.0, 0.4))]}
    m = study.error_metrics(result)
    k = m["methods"]["knockout"]
    assert np.isclose(k["margin_median"], 0.55) and np.isclose(k["margin_min"], -0.5)
    assert k["errors"] == 1 and k["error_percent"] == 25.0
    assert np.isclose(k["upper95_percent"], 100 * study.binomial_upper(1, 4))
    assert np.isclose(m["classifier_accuracy_mean"], 0.85) and m["classifier_accuracy_min"] == 0.7
    assert m["paper_error_percent_500_datasets"]["integrated_gradients"] == 4.2
    assert "4 datasets" in m["note"]


# ----------------------------------------------------------------------------- the trim stage
N_BANDS = 4
VALIDATE = {"n_datasets": 2, "n_train": 300, "n_features": 6, "n_bands": 4, "methods": ["knockout", "cd", "shapley"],
            "hidden": 8, "epochs": 2, "learning_rate": 0.003, "n_explain": 16, "steps": 2, "aggregate": "mean_abs", "batch_size": 64, "seed": 3}


def _cfg() -> trim_config.TrimConfig:
    return trim_config.load({"trim": {
        "output": "Class3.1", "methods": ["knockout", "integrated_gradients_zero", "cd"], "n_bands": N_BANDS, "n_images": 6,
        "steps": 4, "ig_tolerance": 0.05, "max_steps": 36, "cd_tolerance": 1e-3, "batch_size": 16, "min_prediction_ratio": 0.25, "n_property_bins": 2, "seed": 0,
        "validate": VALIDATE}})


def _model(shape, n_outputs, activation):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(shape), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(n_outputs, activation=activation)])


# Function scope, not module: each test writes out/ under its own root, and the SDSS test adds a
# scaling file to the model folder, so a shared root would make tests order-dependent.
@pytest.fixture()
def stage_root(tmp_path, monkeypatch):
    """Factory: make(name, catalog, model, seed) -> a root (the working directory, as under DVC)
    with out/prepared/<family> (8 px images) and the model folder of trim@<name>."""
    monkeypatch.chdir(tmp_path)

    def make(name, catalog, model, seed):
        folder, family = study.subject(name)
        prepared = layout.prepared(family)
        prepared.dir.mkdir(parents=True)
        np.save(prepared.images, np.random.default_rng(seed).integers(0, 256, (len(catalog), 8, 8, 3), dtype=np.uint8))
        catalog.to_parquet(prepared.catalog)
        folder.dir.mkdir(parents=True)
        model.save(folder.model)
        return tmp_path
    return make


@pytest.fixture()
def galaxy_zoo(stage_root):
    """Prepared Galaxy Zoo (10 galaxies, 8 px), its truth table and out/morphology/vgg16."""
    n = 10
    split = ["validation"] * 8 + ["train"] * 2
    catalog = pd.DataFrame({"GalaxyID": 100 + np.arange(n), "split": split, "row": np.arange(n)})
    root = stage_root("vgg16", catalog, _model((8, 8, 3), len(VOTE_COLUMNS), "sigmoid"), seed=0)
    pd.DataFrame({"GalaxyID": 100 + np.arange(n), "has_bar": np.arange(n) % 2 == 0}).to_parquet(root / "truth.parquet")
    return root


def _run_stage(name, truth):
    """What stages/trim.py does: the study of trim@<name>, written through the layout."""
    result = study.band_study(name, *study.subject(name), _cfg(), truth)
    out = layout.trim(name)
    out.dir.mkdir(parents=True)
    study.write_band_study(result, out)
    layout.write_metrics(f"trim_{name}", result.metrics)
    return out, layout.read_metrics(f"trim_{name}", "trim"), result


def test_subject_names_the_model_folder_and_data():
    folder, family = study.subject("resnet50v2")
    assert folder.dir == layout.morphology("resnet50v2").dir and family == "galaxy_zoo"
    folder, family = study.subject("sfnet_metallicity")
    assert folder.dir == layout.sfnet_train("metallicity").dir and family == "sdss"
    for name in ("sfnet_mass", "vgg19"):
        with pytest.raises(ParamError, match=name):
            study.subject(name)


def test_trim_stage_writes_curves_per_band_and_group(galaxy_zoo):
    out, metrics, _ = _run_stage("vgg16", str(galaxy_zoo / "truth.parquet"))
    curves = out.read_json("curves")
    assert len(curves["band_edges"]) == N_BANDS + 1
    assert curves["name"] == "vgg16" and curves["output_index"] == VOTE_COLUMNS.index("Class3.1")
    for method in ("knockout", "integrated_gradients_zero", "cd"):
        c = curves["methods"][method]
        assert len(c["mean"]) == N_BANDS and set(c["groups"]) == {"barred", "unbarred"}
        assert sum(g["n"] for g in c["groups"].values()) == metrics["n_normalised"]
        assert 0 <= metrics["methods"][method]["peak_band"] < N_BANDS
    sample = out.read_parquet("sample")
    assert len(sample) == 6 and metrics["n_images"] == 6
    assert set(sample["row"]) <= set(range(8))  # validation galaxies only
    scores = np.load(out.scores)
    assert scores["raw_knockout"].shape == (6, N_BANDS)
    np.testing.assert_allclose(scores["normalised_knockout"], scores["raw_knockout"] / sample["prediction"].to_numpy()[:, None], rtol=1e-5)
    assert out.read_npy("bands_example").shape == (N_BANDS, 8, 8, 3)
    assert metrics["ig_zero_completeness_gap"] < 0.05
    assert metrics["cd_completeness_gap"] < 1e-4
    assert metrics["checks"]["ig_zero_completeness"]["passed"] and metrics["checks"]["cd_completeness"]["passed"]
    assert set(metrics["headlines"]) == {"trim_cd_peak"}
    assert set(metrics["cd_vs_ig_zero"]) == {"peak_band_cd", "peak_band_ig_zero", "same_peak", "spearman", "bands_sign_differs"}
    assert metrics["headlines"]["trim_cd_peak"]["checks"] == ["cd_completeness", "cd_decays_after_peak"]
    # CD is normalised by the logit z(x) = rel + irrel of each image
    z = np.log(sample["prediction"] / (1 - sample["prediction"])).to_numpy()
    np.testing.assert_allclose(scores["normalised_cd"], scores["raw_cd"] / z[:, None], rtol=1e-3)


def test_ig_steps_triple_until_complete_or_capped():
    cfg = dataclasses.replace(_cfg(), steps=1, ig_tolerance=1e-9, max_steps=9)
    keras.utils.set_random_seed(0)
    model = trim.ModelOutput(_model((8, 8, 3), 1, "sigmoid"), 0)
    x = np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32)
    masks = trim.radial_band_masks(8, 8, N_BANDS)
    f0 = trim.predict_output(model, np.zeros_like(x[:1]), 0)[0]
    scores, steps, tried = study.ig_zero_adaptive(model, x, 0, masks, cfg, f0, trim.predict_output(model, x, 0))
    assert steps == 9 and [t["steps"] for t in tried] == [1, 3, 9]  # capped: the check then fails
    assert tried[-1]["gap"] < tried[0]["gap"]
    # the refined scores are the plain 9-step midpoint IG
    np.testing.assert_allclose(scores, trim.band_importance(model, x, 0, masks, "integrated_gradients_zero", 9, 16), rtol=1e-4, atol=1e-6)
    cfg = dataclasses.replace(cfg, ig_tolerance=1.0)
    _, steps, tried = study.ig_zero_adaptive(model, x, 0, masks, cfg, f0, trim.predict_output(model, x, 0))
    assert steps == 1 and len(tried) == 1


def test_cd_vs_ig_names_the_disagreement():
    d = study.cd_vs_ig([0.1, 0.5, -0.2, 0.05], [0.1, 0.2, 0.3, -0.01])
    assert d["peak_band_cd"] == 1 and d["peak_band_ig_zero"] == 2 and not d["same_peak"]
    assert d["bands_sign_differs"] == [2, 3]


def test_band_checks_pass_and_fail():
    cfg = _cfg()
    good = {"ig_zero_completeness_gap": 0.01, "ig_zero_steps": 8, "cd_completeness_gap": 1e-6,
            "methods": {"cd": {"curve": [0.2, 0.6, 0.3, 0.1]}}}
    normalised = {"cd": np.tile([0.2, 0.6, 0.3, 0.1], (5, 1)) + np.random.default_rng(0).normal(0, 0.01, (5, 4))}
    c, h = study.band_checks(good, cfg, normalised)
    assert all(v["passed"] for v in c.values()) and h["trim_cd_peak"]["low"] <= 0.6 <= h["trim_cd_peak"]["high"]
    bad = {**good, "ig_zero_completeness_gap": 0.32, "cd_completeness_gap": 0.1,
           "methods": {"cd": {"curve": [0.1, 0.2, 0.3, 0.6]}}}  # peak at the highest band
    c, _ = study.band_checks(bad, cfg, normalised)
    assert not any(v["passed"] for v in c.values())


def test_trim_stage_without_truth_has_no_groups(galaxy_zoo):
    out, _, _ = _run_stage("vgg16", None)
    assert out.read_json("curves")["methods"]["knockout"]["groups"] == {}


def test_trim_stage_maps_standardised_sfnet_output_to_physical_units(stage_root):
    n = 8
    catalog = pd.DataFrame({"objID": [str(10**18 + i) for i in range(n)], "oh_p50": np.linspace(8.5, 9.2, n),
                            "in_metallicity": [True] * (n - 1) + [False], "split": "validation", "row": np.arange(n)})
    stage_root("sfnet_metallicity", catalog, _model((6, 6, 3), 1, None), seed=1)  # SFNet sees a centre crop
    with pytest.raises(StaleOutputError, match="standardiser.json not found; run the stage train_sfnet@metallicity"):
        _run_stage("sfnet_metallicity", None)
    layout.sfnet_train("metallicity").standardiser.write_text(json.dumps({"mean": [9.0], "std": [0.2]}))
    out, metrics, _ = _run_stage("sfnet_metallicity", None)
    sample = out.read_parquet("sample")
    assert 8.0 < sample["prediction"].mean() < 10.0 and metrics["output_scaling"] == [9.0, 0.2]
    assert sample["property"].notna().all() and len(sample) == 6  # 7 with a metallicity, n_images = 6
    assert len(out.read_json("curves")["methods"]["knockout"]["groups"]) == 2
    assert out.read_npy("bands_example").shape == (N_BANDS, 6, 6, 3)


def test_trim_validate_records_its_settings_and_error_rates():
    cfg = _cfg().validate
    record, metrics = study.validate(cfg)
    record = json.loads(json.dumps(record))  # as datasets.json holds it
    assert list(record["settings"]) == [f.name for f in dataclasses.fields(cfg)]
    assert record["settings"] == VALIDATE and len(record["datasets"]) == 2
    assert set(metrics["methods"]) == set(VALIDATE["methods"]) and metrics["seconds_total"] > 0
    for m in metrics["methods"].values():
        assert m["n_datasets"] == 2 and 0 <= m["errors"] <= 2 and m["upper95_percent"] >= m["error_percent"]
        assert m["low95_percent"] <= m["error_percent"] <= m["high95_percent"]
    assert {"classifiers_learn", "cd_completeness", "cd_error_lowest", "resolves_cd_vs_ig", "cd_error_matches_paper"} <= set(metrics["checks"])
    assert set(metrics["headlines"]) == {"trim_validate_cd", "trim_validate_shapley"}
    assert metrics["checks"]["cd_completeness"]["passed"] and not metrics["checks"]["resolves_cd_vs_ig"]["passed"]


def _validation_metrics(errors: dict, n: int, accuracy=0.9):
    methods = {k: {"errors": e, "n_datasets": n, "error_rate": e / n, "stderr": 0.0, "seconds_per_dataset": 0.1}
               for k, e in errors.items()}
    datasets = [{"target_band": 0, "accuracy": accuracy, "cd_completeness_gap": 1e-7,
                 "curve_mean_abs": {k: [1.0, 0.5] for k in errors}} for _ in range(n)]
    return study.error_metrics({"aggregate": "mean_abs", "datasets": datasets, "methods": methods}), datasets


def test_validation_checks_pass_on_the_papers_table_and_fail_off_it():
    # 500 datasets with the paper's error counts: every claim holds and the run resolves CD from IG.
    metrics, datasets = _validation_metrics({"cd": 2, "deeplift": 18, "shapley": 20, "integrated_gradients": 21}, 500)
    c, h = study.validation_checks(metrics, datasets)
    assert all(v["passed"] for v in c.values()), study.checks.failed(c)
    assert h["trim_validate_cd"]["paper"] == "0.4 ± 0.28 %" and h["trim_validate_cd"]["low"] <= 0.4 <= h["trim_validate_cd"]["high"]
    # CD worse than IG, IG far from the paper, networks at chance: the checks fail.
    metrics, datasets = _validation_metrics({"cd": 60, "integrated_gradients": 0}, 500, accuracy=0.55)
    c, _ = study.validation_checks(metrics, datasets)
    assert not any(c[n]["passed"] for n in ("classifiers_learn", "cd_error_lowest", "resolves_cd_vs_ig",
                                            "cd_error_matches_paper", "integrated_gradients_error_matches_paper"))


def test_binomial_interval_is_clopper_pearson():
    low, high = study.binomial_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 20))
    low, high = study.binomial_interval(5, 10)
    assert low == pytest.approx(stats.beta.ppf(0.025, 5, 6)) and high == pytest.approx(stats.beta.ppf(0.975, 6, 5))


def test_trim_figures_render(galaxy_zoo, tmp_path):
    common.start()
    _, _, result = _run_stage("vgg16", str(galaxy_zoo / "truth.parquet"))
    figure_input = {"curves": result.curves, "normalised": result.normalised, "sample": result.sample,
                    "bands": result.bands_example}
    assert trim_plots.band_curves(figure_input, tmp_path / "a.png").stat().st_size > 0
    assert trim_plots.curves_by_property({"m": figure_input, "n": figure_input}, tmp_path / "b.png").stat().st_size > 0
    datasets = [{"target_band": 1, "accuracy": 0.9, "curve_mean_abs": {"knockout": [0.1, 0.5, 0.2]}}]  # noqa: E501
    metrics = study.error_metrics({"aggregate": "mean_abs", "datasets": datasets,
                                   "methods": {"knockout": {"errors": 0, "n_datasets": 1, "error_rate": 0.0,
                                                            "stderr": 0.0, "seconds_per_dataset": 0.1}}})
    assert trim_plots.validation(metrics, datasets, tmp_path / "c.png").stat().st_size > 0
