"""The bar-length study around the measurement: splits, modes, calibration, cell choice, inputs."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from galaxy_xai import layout
from galaxy_xai.config import xai as xai_config
from galaxy_xai.domain import BACKBONES
from galaxy_xai.errors import ParamError, StaleOutputError
from galaxy_xai.studies import bars as bs
from galaxy_xai.xai.bar_length import OK


def test_split_is_seeded_and_sized():
    a, b = bs.split_bars(10, 0.3, seed=1), bs.split_bars(10, 0.3, seed=1)
    assert list(a) == list(b)
    assert (a == "validation").sum() == 3 and (a == "test").sum() == 7
    assert list(bs.split_bars(10, 0.3, seed=2)) != list(a)


def test_averageheatmaps_is_the_renormalised_mean_and_xinput_multiplies():
    rng = np.random.default_rng(0)
    maps = {m: rng.random((2, 5, 5)).astype(np.float16) for m in BACKBONES}
    grey = rng.random((2, 5, 5)).astype(np.float32)
    (mean,) = bs.mode_heatmaps(maps, "averageheatmaps", False, grey)
    assert mean.min(axis=(1, 2)) == pytest.approx([0, 0]) and mean.max(axis=(1, 2)) == pytest.approx([1, 1])
    (vgg,) = bs.mode_heatmaps(maps, "vgg16", True, grey)
    np.testing.assert_allclose(vgg, maps["vgg16"].astype(np.float32) * grey)
    assert len(bs.mode_heatmaps(maps, "averagemeasurements", False, grey)) == 3


def test_measure_mode_averages_lengths_and_keeps_the_first_flag():
    bar, short = np.zeros((48, 48), np.float32), np.zeros((48, 48), np.float32)
    bar[20, 5:36] = 1.0  # one row: the sweep never stops, length 30 px
    short[20, 5:16] = 1.0  # 10 px
    flat = np.full((48, 48), 0.5, np.float32)  # constant: flagged
    lengths, flags = bs.measure_mode([np.stack([bar, bar]), np.stack([short, flat])], 0.5, 3)
    assert lengths[0] == pytest.approx(20.0)  # the mean of 30 and 10
    assert np.isnan(lengths[1]) and flags[0] == OK and flags[1] != OK


def test_calibration_recovers_a_line_and_scores_it():
    measured = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    reference = 2 * measured + 1
    line = bs.calibrate(measured, reference)
    assert line == pytest.approx((2.0, 1.0))
    assert bs.calibrated_rmse(measured, reference, line) == pytest.approx(0.0, abs=1e-12)
    assert bs.calibrated_rmse(measured, reference + 1, line) == pytest.approx(1.0)
    assert bs.calibrate(np.ones(5), reference) is None  # constant lengths give no line
    assert bs.agreement(measured, -reference) == {"pearson_r": pytest.approx(-1.0), "n": 4}
    assert bs.agreement(np.ones(5), reference) == {"pearson_r": None, "n": 4}  # constant: no r, not NaN


def test_best_cell_has_the_highest_r_then_the_lowest_rmse():
    table = pd.DataFrame({
        "mode": ["vgg16"] * 3 + ["xception"], "xinput": [False] * 4,
        "corr_threshold": [0.5, 0.6, 0.7, 0.5], "len_threshold": [3] * 4,
        "pearson_r": [0.8, 0.9, 0.9, None], "rmse": [1.0, 2.0, 1.5, 0.1], "measured_fraction": [1.0] * 4,
    })
    best = bs.best_cells(table)
    assert len(best) == 1 and best.loc[0, "corr_threshold"] == 0.7  # xception had no r at all


def test_a_cell_that_measures_too_few_bars_is_not_chosen():
    table = pd.DataFrame({
        "mode": ["vgg16"] * 2, "xinput": [False] * 2, "corr_threshold": [0.5, 0.8], "len_threshold": [3] * 2,
        "pearson_r": [0.7, 0.9], "rmse": [1.0, 1.0], "measured_fraction": [1.0, 0.45],
    })
    assert bs.best_cells(table, 0.9).loc[0, "corr_threshold"] == 0.5
    assert bs.best_cells(table, 0.4).loc[0, "corr_threshold"] == 0.8
    assert bs.best_cells(table, 1.0).loc[0, "corr_threshold"] == 0.5  # every bar measured is eligible


def test_heatmaps_of_different_galaxies_are_refused(tmp_path):
    for i, m in enumerate(BACKBONES):
        (tmp_path / m).mkdir()
        pd.DataFrame({"objid": [1, 2 + (m == "xception")]}).to_parquet(tmp_path / m / "index.parquet")
        np.save(tmp_path / m / "heatmaps.npy", np.zeros((2, 4, 4), np.float16))
    with pytest.raises(StaleOutputError, match="xception/index.parquet"):
        bs.load_heatmaps(BACKBONES, lambda m: layout.Heatmaps(tmp_path / m))


def test_true_lengths_follow_the_asked_ids_and_are_none_for_real_data(tmp_path):
    path = tmp_path / "truth.parquet"
    pd.DataFrame({"objid": [5, 6, 7], "bar_length_arcsec": [1.0, 2.0, 3.0]}).to_parquet(path)
    np.testing.assert_array_equal(bs.true_lengths(path, [7, 5, 9]), [3.0, 1.0, np.nan])
    assert bs.true_lengths(None, [7]) is None


def test_paired_r_difference_finds_the_better_estimate_and_drops_nans():
    rng = np.random.default_rng(0)
    truth = rng.uniform(1, 10, 80)
    good, poor = truth + rng.normal(0, 0.5, 80), truth + rng.normal(0, 3.0, 80)
    good[3], poor[5], truth[7] = np.nan, np.nan, np.nan
    d = bs.paired_r_difference(truth, good, poor, n_bootstrap=500, seed=1)
    ok = np.isfinite(truth) & np.isfinite(good) & np.isfinite(poor)
    expected = np.corrcoef(good[ok], truth[ok])[0, 1] - np.corrcoef(poor[ok], truth[ok])[0, 1]
    assert d["n"] == 77 and d["difference"] == pytest.approx(expected)
    assert 0 < d["ci95"][0] < d["difference"] < d["ci95"][1] and d["p_first_better"] > 0.99
    flipped = bs.paired_r_difference(truth, poor, good, n_bootstrap=500, seed=1)
    assert flipped["difference"] == pytest.approx(-expected) and flipped["p_first_better"] < 0.01


def test_paired_r_difference_of_one_estimate_with_itself_is_exactly_zero():
    rng = np.random.default_rng(2)
    truth = rng.uniform(1, 10, 40)
    same = truth + rng.normal(0, 1, 40)
    d = bs.paired_r_difference(truth, same, same, n_bootstrap=200, seed=0)
    assert d["difference"] == 0 and d["ci95"] == [0.0, 0.0] and d["p_first_better"] == 0
    assert bs.paired_r_difference(truth[:2], same[:2], same[:2], 200, 0) == {"difference": None, "n": 2}


def test_size_alone_correlates_in_arcsec_but_not_per_r90():
    """A length that is only galaxy size scores well in arcsec and nothing once size is divided out."""
    rng = np.random.default_rng(3)
    r90 = rng.uniform(5, 20, 400)
    true_scaled = rng.uniform(0.3, 1.0, 400)
    truth = true_scaled * r90
    size_only = 0.7 * r90 * rng.normal(1, 0.02, 400)  # knows nothing of the bar
    half = np.arange(400) < 200
    got = bs.evaluate(size_only[half], size_only[~half], truth[half], truth[~half], r90[~half])
    assert got["pearson_r"] > 0.6 and abs(got["pearson_r_per_r90"]) < 0.2
    assert bs.evaluate(r90[half], r90[~half], truth[half], truth[~half], r90[~half])["pearson_r_per_r90"] is None
    # The control's scores and the paired difference say the same per R90.
    bar_aware = (true_scaled + rng.normal(0, 0.05, 400)) * r90
    assert bs.scores(bar_aware, truth, r90)["pearson_r_per_r90"] > 0.9
    paired = bs.heatmap_minus_control(bar_aware, size_only, truth, None, r90, 200, 0)
    assert set(paired) == {"vs_catalogue"}
    assert paired["vs_catalogue"]["per_r90"]["difference"] > 0.7 > paired["vs_catalogue"]["difference"]
    assert np.allclose(bs.per_r90(truth, r90), true_scaled)


def test_length_scatter_adds_the_per_r90_panel(tmp_path):
    import matplotlib.image as mpimg

    from galaxy_xai.plots.morphology import length_scatter

    rng = np.random.default_rng(0)
    r90 = rng.uniform(5, 15, 30)
    table = pd.DataFrame({"measured": r90 * rng.uniform(4, 8, 30), "hoyle": r90 * 0.6, "true": r90 * 0.7,
                          "PETROR90_R": r90})
    table.loc[3, "measured"] = np.nan  # a flagged map is left out, not drawn at 0
    length_scatter(table, tmp_path / "with.png")
    length_scatter(table.drop(columns="PETROR90_R"), tmp_path / "without.png")
    wide, narrow = (mpimg.imread(tmp_path / f).shape[1] for f in ("with.png", "without.png"))
    assert wide > 1.3 * narrow  # three panels instead of two


def test_similarity_to_mean_map_tells_generic_maps_from_galaxy_specific_ones():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:24, :24]
    blob = np.exp(-((yy - 12) ** 2 + (xx - 12) ** 2) / 20.0)
    generic = blob[None] + 0.05 * rng.random((40, 24, 24))
    bars = np.zeros((40, 24, 24))
    for i in range(40):  # a bar at a random angle and place in every map
        angle, cy, cx = rng.uniform(0, np.pi), *rng.integers(6, 18, 2)
        t = np.linspace(-5, 5, 30)
        bars[i, np.clip((cy + t * np.sin(angle)).astype(int), 0, 23), np.clip((cx + t * np.cos(angle)).astype(int), 0, 23)] = 1
    assert bs.similarity_to_mean_map(generic) > 0.9
    assert bs.similarity_to_mean_map(bars) < 0.5


def test_image_only_measures_a_bar_that_dominates_the_light_and_not_a_round_blob():
    rng = np.random.default_rng(4)
    n, size = 60, 48
    yy, xx = np.mgrid[:size, :size]
    half = rng.uniform(4, 16, n)  # true half-lengths, map pixels
    images = np.zeros((n, size, size), np.float32)
    for i in range(n):  # a bright bar at 45 degrees on a faint round disk
        t = np.linspace(-half[i], half[i], 200)
        images[i, (24 + t / np.sqrt(2)).astype(int), (24 + t / np.sqrt(2)).astype(int)] = 1.0
        images[i] += 0.3 * np.exp(-((yy - 24) ** 2 + (xx - 24) ** 2) / 200.0)
    bars = pd.DataFrame({"length_scaled": 2 * half / size, "PETROR90_R": 1.0, "orig_width": size})
    validation = np.arange(n) < 30
    cell, lengths, flags = bs.image_only(images, bars, validation, size, [0.5, 0.8], [3, 10])
    assert cell["corr_threshold"] in (0.5, 0.8) and (flags == OK).all()
    assert np.corrcoef(lengths[~validation], half[~validation])[0, 1] > 0.95
    blobs = np.repeat(np.exp(-((yy - 24) ** 2 + (xx - 24) ** 2) / 50.0)[None], n, axis=0)
    cell, blob_lengths, flags = bs.image_only(blobs, bars, validation, size, [0.5], [3])
    # the same round blob everywhere: one length for all, no r, so no cell and no lengths (flagged)
    assert cell is None and np.isnan(blob_lengths).all() and (flags == "no_cell").all()


def test_hoyle_is_length_scaled_times_r90():
    bars = pd.DataFrame({"length_scaled": [0.5, 0.25], "PETROR90_R": [10.0, 4.0]})
    np.testing.assert_array_equal(bs.hoyle(bars), [5.0, 1.0])


def _bar_data(n=40, size=32, seed=0):
    """Maps with one bright bar each (half-length known), three 'models' of different noise."""
    rng = np.random.default_rng(seed)
    half = rng.uniform(3, 12, n)
    base = np.zeros((n, size, size), np.float32)
    for i in range(n):
        t = np.linspace(-half[i], half[i], 100)
        base[i, (16 + t / np.sqrt(2)).astype(int), (16 + t / np.sqrt(2)).astype(int)] = 1.0
    maps = {m: np.clip(base + rng.uniform(0, 0.3 + 0.1 * k, base.shape), 0, 1).astype(np.float16)
            for k, m in enumerate(BACKBONES)}
    r90 = rng.uniform(5, 15, n)
    bars = pd.DataFrame({"objid": np.arange(n) + 100, "row": np.arange(n), "length_scaled": 2 * half / size / r90 * 10,
                         "PETROR90_R": r90, "orig_width": size})
    return bs.BarData(maps, bars, np.ones((n, size, size), np.float32), bs.split_bars(n, 0.5, seed))


def test_search_then_test_score_the_chosen_cell_on_the_test_bars(repo_params, tmp_path):
    xai = replace(xai_config.load(repo_params),
                  corr_thresholds=(0.5, 0.8), len_thresholds=(3, 10), xinput=(False,), min_measured=0.5)
    data = _bar_data()
    table, best, chosen = bs.search(data, xai)
    assert len(table) == 4 * 5 and set(best["mode"]) <= set(table["mode"])
    assert chosen["pearson_r"] == best["pearson_r"].max()
    searched = layout.BarSearch(tmp_path / "search")
    bs.write_search(searched, table, best, chosen)
    metrics, lengths = bs.bar_test(data, xai, None, searched)
    assert metrics["chosen"] == chosen["mode"] and metrics["n_test"] == (data.split == "test").sum()
    assert set(metrics) >= {"modes", "r90_only", "image_only", "map_similarity_to_mean", "chosen_cell", "flagged"}
    assert "vs_truth" not in metrics["modes"][metrics["chosen"]]  # real data: no truth
    assert metrics["modes"][metrics["chosen"]]["vs_catalogue"]["pearson_r"] > 0.5
    assert list(lengths.columns) == ["objid", "split", "length_map_px", "measured", "hoyle", "true", "flag", "PETROR90_R"]
    np.testing.assert_allclose(lengths["hoyle"], bs.hoyle(data.bars))


def test_one_backbone_is_searched_and_tested_alone_without_average_modes(repo_params, tmp_path):
    xai = replace(xai_config.load(repo_params), backbones=("xception",),
                  corr_thresholds=(0.5, 0.8), len_thresholds=(3, 10), xinput=(False,), min_measured=0.5)
    data = _bar_data()
    data.maps = {"xception": data.maps["xception"]}
    table, best, chosen = bs.search(data, xai)
    assert set(table["mode"]) == {"xception"} and len(table) == 4 and chosen["mode"] == "xception"
    searched = layout.BarSearch(tmp_path / "search")
    bs.write_search(searched, table, best, chosen)
    metrics, _ = bs.bar_test(data, xai, None, searched)
    assert set(metrics["modes"]) == {"xception"} and set(metrics["map_similarity_to_mean"]) == {"xception"}


def test_a_pin_outside_the_backbones_modes_is_refused(repo_params):
    params = {**repo_params, "xai": {**repo_params["xai"], "backbones": ["xception"],
                                     "pin": {"mode": "averageheatmaps", "xinput": False, "corr_threshold": 0.5,
                                             "len_threshold": 10}}}
    with pytest.raises(ParamError, match=r"key 'xai.pin.mode' must be one of the modes of xai.backbones \['xception'\]"):
        xai_config.load(params)
    params["xai"]["pin"]["mode"] = "xception"
    assert xai_config.load(params).bar_modes == ("xception",)


def test_control_scores_compare_with_the_heatmap_lengths_of_the_same_galaxies(tmp_path):
    rng = np.random.default_rng(5)
    test = pd.DataFrame({"objid": [3, 1, 2, 4, 5, 6], "length_scaled": rng.uniform(0.2, 1, 6), "PETROR90_R": rng.uniform(5, 9, 6)})
    tested = layout.BarTest(tmp_path)
    hoyle = bs.hoyle(test)
    pd.DataFrame({"objid": [1, 2, 3, 4, 5, 6, 7], "split": ["test"] * 6 + ["validation"],
                  "measured": [*hoyle[[1, 2, 0, 3, 4, 5]] * 1.1, 0.0]}).to_csv(tested.lengths, index=False)
    heatmap = bs.heatmap_test_lengths(tested)
    assert list(heatmap.index) == [1, 2, 3, 4, 5, 6]
    metrics, lengths = bs.control_scores(test, test["length_scaled"].to_numpy(), heatmap, None, 200, 0)
    assert metrics["vs_catalogue"]["rmse"] == 0 and metrics["vs_catalogue"]["pearson_r"] == pytest.approx(1)
    assert metrics["heatmap_minus_control"]["vs_catalogue"]["difference"] == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(lengths["hoyle"], hoyle)
    pd.DataFrame({"objid": [1]}).to_csv(tested.lengths, index=False)
    with pytest.raises(StaleOutputError, match="rerun barlength_test"):
        bs.heatmap_test_lengths(tested)


# --------------------------------------------------------------------------- checks (issue 19)

def _evaluated(measured, truth, r90, seed=0):
    half = np.arange(len(truth)) % 2 == 0
    return bs.evaluate(measured[half], measured[~half], truth[half], truth[~half], r90[~half], 500, seed)


def test_a_size_only_bar_length_fails_bar_beats_size_and_a_true_one_passes():
    rng = np.random.default_rng(3)
    n = 120
    r90 = rng.uniform(5, 15, n)
    truth = r90 * rng.uniform(0.2, 0.8, n)  # bar length per R90 varies independently of size
    size_only = 0.5 * r90 * rng.normal(1, 0.02, n)
    good = truth * rng.normal(1, 0.1, n)
    no_difference = {"difference": None, "n": 0}
    fails = bs.bar_checks(_evaluated(size_only, truth, r90), no_difference, None, None, 0.5)
    assert not fails["bar_beats_size"]["passed"] and not fails["bar_beats_image_only"]["passed"]
    passes = bs.bar_checks(_evaluated(good, truth, r90), no_difference, None, None, 0.5)
    assert passes["bar_beats_size"]["passed"] and passes["bar_beats_size"]["value"] > 0.5
    got = _evaluated(good, truth, r90)
    low, high = got["pearson_r_per_r90_ci95"]
    assert low <= got["pearson_r_per_r90"] <= high and got["pearson_r_ci95"][0] is not None
    # beats image_only: a paired bootstrap on the same galaxies
    half = np.arange(n) % 2 == 1
    beyond = bs.paired_r_difference(truth[half] / r90[half], good[half] / r90[half], size_only[half] / r90[half], 500, 0)
    assert bs.bar_checks(got, beyond, None, None, 0.5)["bar_beats_image_only"]["passed"]
    beyond = bs.paired_r_difference(truth[half] / r90[half], size_only[half] / r90[half], good[half] / r90[half], 500, 0)
    assert not bs.bar_checks(got, beyond, None, None, 0.5)["bar_beats_image_only"]["passed"]


def test_maps_unchanged_by_randomisation_fail_and_changed_maps_pass():
    def result(rho):
        return {"n_weighted_layers": 10, "n_galaxies": 4,
                "depths": [{"fraction": 0.1, "n_layers": 1, "median_spearman": 0.99},
                           {"fraction": 1.0, "n_layers": 10, "median_spearman": rho}]}
    found = bs.bar_checks({}, {"difference": None}, {"vgg16": result(0.97), "xception": result(0.12),
                                                      "resnet50v2": result(None)}, None, 0.5)
    assert not found["randomisation_vgg16"]["passed"] and found["randomisation_vgg16"]["kind"] == "validity"
    assert found["randomisation_xception"]["passed"]
    assert not found["randomisation_resnet50v2"]["passed"]  # undefined: not passed


def test_footprint_follows_the_renderer_geometry():
    geometry = pd.DataFrame({"bar_half_length_arcsec": [8.0] * 3, "bar_phi": [0.0, 0.0, np.pi / 4],
                             "axis_ratio": [1.0] * 3, "position_angle": [0.0, np.pi / 2, 0.0], "gz_pixel_arcsec": [1.0] * 3})
    masks = bs.footprint_masks(geometry, np.array([32, 32, 32]), 32)  # 1 arcsec per map pixel
    rows, cols = np.nonzero(masks[0])
    assert np.ptp(cols) > 3 * np.ptp(rows)  # bar along x = along columns
    rows, cols = np.nonzero(masks[1])
    assert np.ptp(rows) > 3 * np.ptp(cols)  # turned by 90 deg: along rows
    rows, cols = np.nonzero(masks[2])
    assert np.corrcoef(rows, cols)[0, 1] > 0.9  # 45 deg: y (rows) grows with x (columns)


def test_a_map_concentrated_on_the_footprint_passes_and_a_round_map_fails():
    rng = np.random.default_rng(0)
    n, size = 30, 32
    geometry = pd.DataFrame({"bar_half_length_arcsec": rng.uniform(6, 10, n), "bar_phi": rng.uniform(0, np.pi, n),
                             "axis_ratio": rng.uniform(0.5, 1, n), "position_angle": rng.uniform(0, np.pi, n),
                             "gz_pixel_arcsec": np.ones(n)})
    masks = bs.footprint_masks(geometry, np.full(n, size), size)
    on_bar = masks + 0.05 * rng.random(masks.shape)
    compared = bs.footprint_compare(*bs.footprint_shares(on_bar, masks), 500, 0)
    assert compared["share_inside"] > 2 * compared["share_rotated"] and compared["ratio"]["low"] > 1
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    round_maps = np.broadcast_to(np.exp(-(xx ** 2 + yy ** 2) / 40.0), masks.shape)
    round_result = bs.footprint_compare(*bs.footprint_shares(round_maps, masks), 500, 0)
    found = bs.bar_checks({}, {"difference": None}, None,
                          {"models": {"vgg16": compared, "xception": round_result}}, 0.5)
    assert found["footprint_vgg16"]["passed"] and not found["footprint_xception"]["passed"]


def test_footprint_is_skipped_with_a_reason_when_the_truth_lacks_the_bar_geometry(tmp_path):
    data = _bar_data()
    path = tmp_path / "truth.parquet"
    pd.DataFrame({"objid": data.bars["objid"], "bar_length_arcsec": 1.0}).to_parquet(path)
    found = bs.footprint_test(data, path, 100, 0)
    assert found["models"] is None and "bar_phi" in found["skipped"]
    assert bs.footprint_test(data, None, 100, 0) is None  # real data
    geometry = pd.DataFrame({"objid": data.bars["objid"], "has_bar": True, "is_disk": True, "bar_half_length_arcsec": 5.0,
                             "bar_phi": 0.0, "axis_ratio": 1.0, "position_angle": 0.0, "gz_pixel_arcsec": 1.0})
    geometry.to_parquet(path)
    found = bs.footprint_test(data, path, 100, 0)
    assert found["n"] == len(data.bars) and set(found["models"]) == set(BACKBONES)


def test_control_checks_pass_for_a_worse_size_only_control_and_fail_for_a_better_one():
    rng = np.random.default_rng(7)
    n = 150
    r90 = rng.uniform(5, 15, n)
    true = r90 * rng.uniform(0.2, 0.8, n)
    good, size_only = true * rng.normal(1, 0.05, n), 0.5 * r90 * rng.normal(1, 0.05, n)
    catalogue = true * rng.normal(1, 0.02, n)

    def metrics(heatmap, control):
        found = {"vs_catalogue": bs.scores(control, catalogue, r90, 300, 0), "vs_truth": bs.scores(control, true, r90, 300, 0),
                 "heatmap_minus_control": bs.heatmap_minus_control(heatmap, control, catalogue, true, r90, 300, 0)}
        return bs.control_checks(found), bs.control_headlines(found["vs_catalogue"], bs.control_checks(found))

    found, heads = metrics(good, size_only)
    assert found["heatmap_beats_control"]["passed"] and found["heatmap_beats_control_per_r90"]["passed"]
    assert not found["control_beats_size"]["passed"]
    assert heads["control_r"]["low"] <= heads["control_r"]["value"] <= heads["control_r"]["high"]
    found, _ = metrics(size_only, good)
    assert not found["heatmap_beats_control"]["passed"] and not found["heatmap_beats_control_per_r90"]["passed"]
    assert found["control_beats_size"]["passed"]


def test_bar_test_on_simulated_data_writes_checks_headlines_randomisation_and_footprint(repo_params, tmp_path):
    from galaxy_xai.io import write_json

    xai = replace(xai_config.load(repo_params), corr_thresholds=(0.5, 0.8), len_thresholds=(3, 10), xinput=(False,),
                  min_measured=0.5, n_bootstrap=100)
    data = _bar_data()
    searched = layout.BarSearch(tmp_path / "search")
    bs.write_search(searched, *bs.search(data, xai))
    truth = tmp_path / "truth.parquet"
    pd.DataFrame({"objid": data.bars["objid"], "bar_length_arcsec": bs.hoyle(data.bars), "has_bar": True, "is_disk": True,
                  "bar_half_length_arcsec": 5.0, "bar_phi": np.pi / 4, "axis_ratio": 1.0, "position_angle": 0.0,
                  "gz_pixel_arcsec": 1.0}).to_parquet(truth)
    randomisation = {m: {"n_weighted_layers": 3, "n_galaxies": 2,
                         "depths": [{"fraction": 1.0, "n_layers": 3, "median_spearman": 0.1}]} for m in BACKBONES}
    metrics, _ = bs.bar_test(data, xai, truth, searched, seed=0, randomisation=randomisation)
    assert metrics["select_by"] == xai.select_by and metrics["footprint"]["n"] == len(data.bars)
    assert {"bar_beats_size", "bar_beats_image_only", "randomisation_vgg16", "footprint_xception"} <= set(metrics["checks"])
    assert metrics["checks"]["footprint_vgg16"]["passed"]  # the synthetic maps lie along the 45 deg bar
    assert metrics["headlines"]["bar_length_r"]["checks"] == list(metrics["checks"])
    assert metrics["modes"][metrics["chosen"]]["vs_truth"]["pearson_r_per_r90_ci95"][0] is not None
    write_json(tmp_path / "barlength.json", metrics)  # JSON-clean: no NaN anywhere


def test_footprint_matches_the_renderers_bar():
    """The footprint holds most of the rendered bar's light, the footprint turned 90 deg little of it."""
    galsim = pytest.importorskip("galsim")
    from galaxy_xai.data.render import component_profiles

    size, scale = 64, 0.5
    rows = []
    for pa, phi, q in [(0.3, 0.2, 0.9), (1.2, 2.0, 0.6), (2.5, 1.0, 0.4)]:
        g = {"position_angle": pa, "axis_ratio": q, "is_disk": True, "bulge_n": 2.0, "r50_bulge_arcsec": 1.0,
             "r50_disk_arcsec": 4.0, "has_bar": True, "bar_half_length_arcsec": 8.0, "bar_phi": phi}
        bar = component_profiles(g, np.random.default_rng(0))["bar"].drawImage(nx=size, ny=size, scale=scale).array
        mask = bs.footprint_masks(pd.DataFrame([{**g, "gz_pixel_arcsec": scale}]), np.array([size]), size)
        inside, turned = bs.footprint_shares(bar[None], mask)
        rows.append((inside[0], turned[0]))
    for inside, turned in rows:  # measured: 0.57-0.59 inside, 0.23-0.30 turned (the centre is in both)
        assert inside > 0.5 and inside > 1.8 * turned
