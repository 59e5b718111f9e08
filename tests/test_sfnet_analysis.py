"""SFNet feature analysis and training helpers: hand-made inputs with known answers."""
import dataclasses
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from galaxy_xai import checks as ck, layout, stats
from galaxy_xai.config import read_params, sfnet as sfnet_config
from galaxy_xai.data.images import centre_crop
from galaxy_xai.data.lines import agn_labels, bpt_ratios, kauffmann_agn, kauffmann_line
from galaxy_xai.domain import SFNET_BLOCKS
from galaxy_xai.errors import InputError, ParamError
from galaxy_xai.models.sfnet import TopK, build_dense_twin
from galaxy_xai.io import write_json
from galaxy_xai.models.sfnet_training import (
    Standardiser, features_and_outputs, freeze_before, load_feature_table, load_target_data, save_feature_table,
    save_trained, sfnet_from_dense, target_sample, topk_mask,
)
from galaxy_xai.studies import sfnet as study
from galaxy_xai.xai import sfnet_features as sf

CFG = sfnet_config.load(read_params(Path(__file__).resolve().parents[1] / "params.yaml"))

# Four galaxies x five features; feature 4 never fires.
ACTS = np.array([
    [0.0, 2.0, 1.0, 0.0, 0.0],
    [3.0, 0.0, 1.0, 0.0, 0.0],
    [0.0, 4.0, 0.0, 1.0, 0.0],
    [0.0, 1.0, 2.0, 0.0, 0.0],
])


def test_activation_frequency_counts_non_zero_entries():
    np.testing.assert_allclose(sf.activation_frequency(ACTS), [0.25, 0.75, 0.75, 0.25, 0.0])


def test_scaled_activations_peak_at_one_and_keep_zeros():
    scaled = sf.scale_activations(ACTS)
    np.testing.assert_allclose(scaled.max(axis=0), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(scaled == 0, ACTS == 0)
    np.testing.assert_allclose(scaled[:, 1], [0.5, 0, 1, 0.25])


def test_top_features_by_frequency_then_mean_and_only_active_ones():
    # features 1 and 2 tie at 75 %: 1 has the larger mean (7/4 vs 1); then 0 (mean 3/4) before 3 (1/4)
    np.testing.assert_array_equal(sf.top_features(ACTS), [1, 2, 0, 3])
    np.testing.assert_array_equal(sf.top_features(ACTS, 2), [1, 2])


def test_variance_explained_is_one_for_an_exact_linear_target_and_less_with_too_few_features():
    rng = np.random.default_rng(0)
    acts = rng.random((200, 6))
    y = 1.5 + 2.0 * acts[:, 0] - 3.0 * acts[:, 1]
    order = np.array([0, 1, 2, 3, 4, 5])
    assert sf.variance_explained_by_top(acts, y, order, 2) == pytest.approx(1.0)
    assert sf.variance_explained_by_top(acts, y, order, 1) < 0.5
    two_outputs = np.column_stack([y, -y])
    assert sf.variance_explained_by_top(acts, two_outputs, order, 2) == pytest.approx(1.0)


def test_linear_equation_reproduces_the_model_in_physical_units():
    rng = np.random.default_rng(1)
    kernel, bias = rng.normal(size=(5, 2)), rng.normal(size=2)
    mean, std = np.array([8.9, 2.0]), np.array([0.1, 0.6])
    scale = sf.activation_scale(ACTS)
    eq = sf.linear_equation(kernel, bias, [1, 2], scale, mean, std)
    # galaxy 3 activates only features 1 and 2, so the two-feature equation is exact for it
    model = (ACTS[3] @ kernel + bias) * std + mean
    equation = eq["intercept"] + sf.scale_activations(ACTS, scale)[3, [1, 2]] @ eq["coef"]
    np.testing.assert_allclose(equation, model)


def test_top_activating_sorts_strongest_first_and_skips_inactive_galaxies():
    np.testing.assert_array_equal(sf.top_activating(ACTS, 1, 9), [2, 0, 3])
    np.testing.assert_array_equal(sf.top_activating(ACTS, 1, 2), [2, 0])
    assert len(sf.top_activating(ACTS, 4, 9)) == 0


def test_pca_topk_rmse_finds_a_target_carried_by_the_first_component():
    rng = np.random.default_rng(2)
    latent = rng.normal(size=(300, 1)) * 5
    feats = latent @ rng.normal(size=(1, 20)) + 0.01 * rng.normal(size=(300, 20))
    y = 3 * latent[:, 0] + 1
    out = sf.pca_topk_rmse(feats[:200], y[:200], feats[200:], y[200:], [1, 2, 300])
    assert out[1] < 0.05 * y.std() and out[2] < 0.05 * y.std()
    assert out[300] is None  # more components than 20 features allow


def test_memorisation_check_fits_the_validation_set_itself():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(120, 39)), rng.normal(size=120)  # y unrelated to x
    out = sf.fit_and_memorise(LinearRegression, x[:80], y[:80], x[80:], y[80:])
    assert out["fit_on_train"] > 0.9  # nothing to learn: about the noise (std 1) or worse
    assert out["fit_on_validation"] < 1e-6  # 40 points, 39 features + intercept: memorised exactly


def test_ridge_r2_is_high_for_a_linear_relation_and_low_for_noise():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 10))
    y = np.column_stack([x @ rng.normal(size=10) + 0.05 * rng.normal(size=400), rng.normal(size=400)])
    r2 = sf.ridge_r2(x[:300], y[:300], x[300:], y[300:], alpha=1.0)
    assert r2[0] > 0.99 and r2[1] < 0.1


def test_kauffmann_line_on_hand_placed_points():
    # x = log([NII]/Ha), y = log([OIII]/Hb); the line at x = -0.5 is 0.61 / -0.55 + 1.3 = 0.191
    x = np.array([-0.5, -0.5, -1.0, -1.0, 0.1, 0.3])
    y = np.array([0.0, 0.5, 0.6, 0.8, -1.0, 1.0])
    np.testing.assert_array_equal(kauffmann_agn(x, y), [False, True, False, True, True, True])
    assert kauffmann_line(-0.5) == pytest.approx(0.61 / -0.55 + 1.3)
    # from log fluxes: [NII]/Ha = 10**-0.5 and [OIII]/Hb = 10**0.5 lies above the line
    assert agn_labels(1.5, 2.0, 2.5, 2.0).item() is True
    assert bpt_ratios(1.5, 2.0, 2.5, 2.0) == (-0.5, 0.5)


def test_svm_separates_separable_agn_and_reports_the_majority_baseline():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    score = x[:, 0] + 0.5 * x[:, 1] - 0.8
    x, agn = x[np.abs(score) > 0.3][:200], score[np.abs(score) > 0.3][:200] > 0  # a clear margin
    out = sf.svm_agn_scores(x[:150], agn[:150], x[150:], agn[150:], c=10.0)
    assert out["accuracy"] > 0.95 and out["f1"] > 0.9
    assert out["majority_accuracy"] == pytest.approx(np.mean(~agn[150:]))
    assert sf.svm_agn_scores(x[:10], np.zeros(10, bool), x[10:20], agn[10:20])["accuracy"] is None


def test_truth_links_correlate_top_features_with_the_truth_on_disks_and_flag_constant_features():
    rng = np.random.default_rng(6)
    n = 60
    truth = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "cos_i": rng.random(n), "is_disk": np.arange(n) % 2 == 0,
                          **{c: rng.random(n) for c in ("log_mstar", "dust_av", "log_sfr", "is_agn", "z")}})
    acts = np.column_stack([np.where(truth["is_disk"], truth["cos_i"], rng.random(n)), np.zeros(n)])
    table = {"objID": truth["objID"].to_numpy(str)[::-1], "validation": np.ones(n, bool)}  # order is the table's
    acts = acts[::-1]
    record, incl = study.truth_links(acts, np.array([0, 1]), ["Z0", "Z1"], table, truth)
    assert record["Z0"]["cos_i"] == pytest.approx(np.corrcoef(acts[:, 0], truth["cos_i"][::-1])[0, 1])
    assert incl["cos_i_r"]["Z0"]["r_disks"] == pytest.approx(1.0) and incl["max_abs_r_disks"] == pytest.approx(1.0)
    assert record["Z1"]["cos_i"] is None and incl["cos_i_r"]["Z1"]["r_all"] is None  # constant: r undefined


def test_feature_names_follow_the_paper():
    assert sf.feature_name("lines", 17) == "SL17" and sf.feature_name("metallicity", 61) == "Z61"


# ---- training helpers -----------------------------------------------------------------------

def test_topk_mask_matches_the_topk_layer():
    x = np.random.default_rng(7).random((5, 40)).astype("float32")
    np.testing.assert_array_equal(topk_mask(x, 3), np.asarray(TopK(3)(x)))
    np.testing.assert_array_equal(topk_mask(x, 40), x)


def test_standardiser_round_trip_and_identity_when_disabled():
    y = np.array([[8.5, 1.0], [9.0, 3.0], [9.5, 5.0]])
    s = Standardiser.fit(y)
    z = s.transform(y)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(s.inverse(z), y, rtol=1e-6)
    np.testing.assert_allclose(Standardiser.from_dict(s.to_dict()).mean, s.mean)
    np.testing.assert_allclose(Standardiser.fit(y, enabled=False).transform(y), y)


def test_rmse_in_dex_pools_all_outputs():
    y, p = [[0, 0], [0, 0]], [[1, 3], [1, 3]]
    assert stats.rmse(y, p) == pytest.approx(np.sqrt(5)) and stats.rmse_per_output(y, p) == pytest.approx([1, 3])


def test_target_sample_applies_the_sample_flag_nulls_and_split():
    cat = pd.DataFrame({
        "objID": list("abcdef"), "oh_p50": [8.9, -9999.0, 9.0, 8.8, 8.7, np.nan],
        "in_metallicity": [True, True, False, True, True, True],
        "split": ["train", "train", "train", "validation", "train", "validation"], "row": range(6),
    })
    train, val = target_sample(cat, "metallicity")
    assert train["objID"].tolist() == ["a", "e"] and val["objID"].tolist() == ["d"]


def test_centre_crop_is_a_centred_view():
    images = np.arange(2 * 8 * 8 * 3).reshape(2, 8, 8, 3)
    crop = centre_crop(images, 4)
    assert crop.shape == (2, 4, 4, 3) and np.shares_memory(crop, images)
    np.testing.assert_array_equal(crop[0, 0, 0], images[0, 2, 2])
    with pytest.raises(ValueError):
        centre_crop(images, 10)


def test_warm_start_copies_the_backbone_fits_the_head_and_freezes_early_blocks():
    keras.utils.set_random_seed(8)
    shape = (32, 32, 3)
    dense = build_dense_twin(2, shape)
    images = (np.random.default_rng(9).random((24, *shape)) * 255).astype(np.uint8)
    feats, _ = features_and_outputs(dense, images, np.arange(24), 8)
    y = np.random.default_rng(10).normal(size=(24, 2)).astype("float32")
    model = sfnet_from_dense(dense, feats, y, k=3, trainable_from="stage4")
    sparse, outputs = features_and_outputs(model, images, np.arange(24), 8)
    np.testing.assert_allclose(sparse, topk_mask(feats, 3), rtol=1e-4, atol=1e-5)  # same backbone
    expected = Ridge(alpha=1e-3).fit(topk_mask(feats, 3), y).predict(topk_mask(feats, 3))
    np.testing.assert_allclose(outputs, expected, rtol=1e-3, atol=1e-3)
    trainable = {layer.name.split("_")[0] for layer in model.layers if layer.trainable and layer.weights}
    assert trainable == {"stage4", "head"}
    freeze_before(model, SFNET_BLOCKS[0])
    assert all(layer.trainable for layer in model.layers)


def test_load_target_data_and_save_trained_write_the_stage_files(tmp_path):
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(12)
    pd.DataFrame({
        "objID": [f"g{i}" for i in range(12)], "row": range(12), "in_metallicity": True,
        "oh_p50": rng.normal(9.0, 0.2, 12), "split": ["train"] * 8 + ["validation"] * 4,
    }).to_parquet(tmp_path / "catalog.parquet")
    np.save(tmp_path / "images.npy", (rng.random((12, 40, 40, 3)) * 255).astype(np.uint8))
    images, train, val, columns, scaler = load_target_data(layout.Prepared(tmp_path), "metallicity",
                                                           dataclasses.replace(CFG, crop=32, standardise=True))
    assert images.shape == (12, 32, 32, 3) and (len(train), len(val)) == (8, 4) and columns == ["oh_p50"]
    out = tmp_path / "out"
    out.mkdir()
    val_features, total, per_output = save_trained(layout.ModelFolder(out), build_dense_twin(1, images.shape[1:]), images, train, val,
                                                   columns, scaler, batch_size=5)
    assert {p.name for p in out.iterdir()} == {"model.keras", "features.npz", "standardiser.json"}
    table = load_feature_table(out / "features.npz")
    np.testing.assert_array_equal(val_features, table["features"][table["validation"]])
    y, p = table["targets"][table["validation"]], table["predictions"][table["validation"]]
    assert total == pytest.approx(stats.rmse(y, p)) and per_output == pytest.approx(stats.rmse_per_output(y, p))
    with pytest.raises(ParamError, match="oxygen"):
        load_target_data(layout.Prepared(tmp_path), "oxygen", CFG)


def test_scratch_sfnets_need_epochs_and_xgboost_gets_integer_counts():
    params = read_params(Path(__file__).resolve().parents[1] / "params.yaml")
    params["sfnet"].update(init="scratch", epochs=0)
    with pytest.raises(ParamError, match="'sfnet.epochs' must be positive when sfnet.init is 'scratch'"):
        sfnet_config.load(params)
    assert all(isinstance(CFG.xgboost[k], int) for k in ("n_estimators", "max_depth") if k in CFG.xgboost)


# ---- the studies -----------------------------------------------------------------------------

def _table(tmp_path, rng, n=80, columns=("log_N2", "log_Ha", "log_O3", "log_Hb")):
    """A feature table as the trainers write it: 60 training, 20 validation galaxies."""
    frame = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n),
                          "split": ["train"] * 60 + ["validation"] * (n - 60)})
    for c in columns:
        frame[c] = rng.normal(size=n)
    feats = topk_mask(rng.random((n, 16)), 4)
    path = tmp_path / "features.npz"
    save_feature_table(path, frame, feats, frame[list(columns)].to_numpy() + 0.1, list(columns))
    return load_feature_table(path)


def test_svm_agn_compares_top_m_with_all_active_features(tmp_path):
    table = _table(tmp_path, np.random.default_rng(13))
    out = study.svm_agn(dataclasses.replace(CFG, top_m=2), table)
    assert set(out) == {"top2", "all_active", "agn_fraction_validation"}
    assert out["top2"]["n_features"] == 2 and out["all_active"]["n_features"] == 16
    want = agn_labels(*table["targets"][table["validation"]].T).mean()
    assert out["agn_fraction_validation"] == pytest.approx(want)


def test_dense_baselines_and_k_table(tmp_path):
    rng = np.random.default_rng(14)
    _table(tmp_path, rng, columns=("oh_p50",))
    cfg = dataclasses.replace(CFG, k_list=(1, 2), xgboost={"n_estimators": 3, "max_depth": 2}, n_bootstrap=100)
    base = study.dense_baselines(cfg, layout.ModelFolder(tmp_path))
    assert stats.rmse(base["y"], base["dense_pred"]) == pytest.approx(0.1)
    assert (base["n_train"], base["n_validation"]) == (60, 20)
    assert set(base["pca"]) == {1, 2} and set(base["xgboost"]) == {"fit_on_train", "fit_on_validation"}
    assert base["pcs"].shape[1] >= cfg.pca_explain_components
    mem = base["memorisation"]
    assert mem["linear"]["n_galaxies"] == 20 and mem["linear"]["galaxies_per_feature"] == pytest.approx(20 / 16)
    assert mem["ridge_cv"]["alpha"] in cfg.memorise_alphas and mem["ridge_cv"]["rmse_ci"]["n"] == 20
    assert mem["ridge_cv"]["alpha_at_grid_edge"] == (mem["ridge_cv"]["alpha"] in (min(cfg.memorise_alphas), max(cfg.memorise_alphas)))
    y = base["y"]
    preds = {1: np.stack([y + 0.01, y - 0.02], axis=1), 2: (y + 0.5)[:, None]}
    table = study.k_table(cfg, {1: [0.2, 0.4], 2: [0.3]}, preds, base)
    assert table["k1"]["sfnet"] == pytest.approx(0.3) and table["k1"]["sfnet_sem"] == pytest.approx(0.1)
    assert table["k2"]["sfnet_runs"] == [0.3] and table["k2"]["pca"] == base["pca"][2]
    diff = table["k1"]["sfnet_minus_pca"]
    assert diff["estimate"] == pytest.approx(0.015 - base["pca"][1]) and diff["n"] == 20
    assert table["k2"]["sfnet_minus_dense"]["estimate"] == pytest.approx(0.5 - 0.1)
    mean_rmse = stats.rmse(y, np.broadcast_to(base["train_mean"], y.shape))
    assert table["k2"]["sfnet_minus_mean"]["estimate"] == pytest.approx(0.5 - mean_rmse)
    assert table["k1"]["sfnet_minus_mean"]["high"] < 0


# ---- checks: each must pass on a constructed good case and fail on a bad one -----------------

def test_memorisation_interpolates_with_more_features_than_galaxies_and_is_flagged():
    rng = np.random.default_rng(20)
    x, y = rng.normal(size=(40, 60)), rng.normal(size=40)  # y unrelated to x, 60 features > 40 galaxies
    ols, _ = sf.memorise(x, y)
    assert ols["rmse"] < 1e-6 and ols["galaxies_per_parameter"] <= 1.0  # interpolates: memorisation cannot fail
    ridge, _ = sf.memorise(x, y, CFG.memorise_alphas)
    assert ridge["rmse"] > 0.8 * y.std()  # CV refuses to interpolate noise
    gap = {"estimate": -0.01, "low": -0.02, "high": 0.0, "k": 2}
    c, h = study.memorisation_checks("metallicity", CFG, {"linear": ols, "ridge_cv": dict(ridge, rmse_ci=gap)}, gap)
    assert not c["metallicity_linear_memorisation_well_posed"]["passed"]
    assert c["metallicity_linear_memorisation_well_posed"]["kind"] == "validity"
    assert not c["metallicity_dense_features_from_morphology_model"]["passed"]  # the twin stands in for Zoobot
    assert not c["metallicity_memorisation_worse_than_sfnet"]["passed"]
    assert ck.verdict(h["metallicity_linear_memorisation"], c)[0] == "inconclusive"


def test_memorisation_of_a_well_posed_problem_passes():
    rng = np.random.default_rng(21)
    x = rng.normal(size=(600, 5))
    y = x @ rng.normal(size=5) + 0.3 * rng.normal(size=600)
    for alphas in (None, CFG.memorise_alphas):
        fit, _ = sf.memorise(x, y, alphas)
        assert fit["rmse"] == pytest.approx(0.3, rel=0.1) and fit["galaxies_per_parameter"] >= 100
    ols, _ = sf.memorise(x, y)
    ridge, _ = sf.memorise(x, y, CFG.memorise_alphas)
    gap = {"estimate": 0.2, "low": 0.1, "high": 0.3, "k": 4}
    c, _ = study.memorisation_checks("lines", CFG, {"linear": ols, "ridge_cv": dict(ridge, rmse_ci=gap)}, gap)
    assert c["lines_memorisation_well_posed"]["passed"] and c["lines_linear_memorisation_well_posed"]["passed"]
    assert c["lines_memorisation_worse_than_sfnet"]["passed"]


def _ci(estimate, low, high, n=50):
    return {"estimate": estimate, "low": low, "high": high, "n": n, "n_bootstrap": 100, "undefined_draws": 0}


def test_sfnet_beats_pca_check_needs_the_whole_interval_below_zero():
    learned = _ci(-0.05, -0.06, -0.04)
    rows = {"k2": {"k": 2, "sfnet_runs": [0.08], "n_validation": 50, "sfnet_minus_pca": _ci(-0.05, -0.07, -0.03),
                   "sfnet_minus_mean": learned},
            "k4": {"k": 4, "sfnet_runs": [0.08], "n_validation": 50, "sfnet_minus_pca": _ci(-0.01, -0.03, 0.01),
                   "sfnet_minus_mean": learned},
            "k5": {"k": 5, "sfnet_runs": [0.08], "n_validation": 50, "sfnet_minus_pca": None, "sfnet_minus_mean": learned},
            "k8": {"k": 8, "sfnet_runs": [0.08], "n_validation": 50, "sfnet_minus_pca": _ci(-0.05, -0.07, -0.03),
                   "sfnet_minus_mean": _ci(0.0, -0.01, 0.01)}}  # stuck at the training mean
    c, h = study.pca_checks("metallicity", rows)
    assert c["metallicity_sfnet_k2_learned"]["passed"] and c["metallicity_sfnet_k2_learned"]["kind"] == "validity"
    assert not c["metallicity_sfnet_k8_learned"]["passed"]
    assert ck.verdict(h["metallicity_sfnet_minus_pca_k8"], c)[0] == "inconclusive"
    assert c["metallicity_sfnet_beats_pca_k2"]["passed"] and not c["metallicity_sfnet_beats_pca_k4"]["passed"]
    assert not c["metallicity_sfnet_beats_pca_k5"]["passed"]
    assert "0.0858" in h["metallicity_sfnet_minus_pca_k2"]["paper"] and "not in" in h["metallicity_sfnet_minus_pca_k5"]["paper"]
    assert ck.verdict(h["metallicity_sfnet_minus_pca_k2"], c)[0] == "reproduced"
    assert ck.verdict(h["metallicity_sfnet_minus_pca_k4"], c)[0] == "not reproduced"


def _pair_tables(tmp_path, rng, sfnet_noise, n=200):
    """An SFNet feature table and its dense twin's (predictions = target + noise), 150 / 50 split."""
    frame = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n),
                          "split": ["train"] * 150 + ["validation"] * (n - 150), "oh_p50": rng.normal(9, 0.2, n)})
    y = frame[["oh_p50"]].to_numpy()
    save_feature_table(tmp_path / "sfnet.npz", frame, topk_mask(rng.random((n, 16)), 4),
                       y + sfnet_noise * rng.normal(size=(n, 1)), ["oh_p50"])
    save_feature_table(tmp_path / "dense.npz", frame.iloc[::-1], rng.random((n, 16)),
                       (y + 0.02 * rng.normal(size=(n, 1)))[::-1], ["oh_p50"])
    return load_feature_table(tmp_path / "sfnet.npz"), load_feature_table(tmp_path / "dense.npz")


@pytest.mark.parametrize("noise, matches", [(0.01, True), (0.3, False)])
def test_sfnet_matches_dense_and_beats_mean_checks(tmp_path, noise, matches):
    table, dense = _pair_tables(tmp_path, np.random.default_rng(22), noise)
    acc = study.accuracy_vs_dense(dataclasses.replace(CFG, n_bootstrap=200), table, dense)
    assert acc["max_active_per_galaxy"] == 4 and acc["n_validation"] == 50
    assert acc["dense_rmse"]["estimate"] == pytest.approx(0.02, rel=0.3)  # aligned on objID, not row order
    c, h = study.accuracy_checks("metallicity", CFG, acc)
    assert c["metallicity_dense_beats_mean"]["passed"]
    assert c["metallicity_sfnet_beats_mean"]["passed"] is matches
    assert c["metallicity_sfnet_matches_dense"]["passed"] is matches
    assert h["metallicity_sfnet_rmse"]["low"] <= h["metallicity_sfnet_rmse"]["value"] <= h["metallicity_sfnet_rmse"]["high"]


def _agn_lines(tmp_path, seed, signal=0.0, n=400):
    """A line feature table of n galaxies (300 train, 100 validation) whose lines put about a third
    above the Kauffmann line ([NII]/Ha = 10**-0.5, [OIII]/Hb = 10**+-0.5), with 8 noise features, the
    first shifted by `signal` in AGN. Returns the galaxies' objIDs and AGN flags."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n),
                          "split": ["train"] * 300 + ["validation"] * (n - 300)})
    agn = rng.random(n) < 0.35
    frame["log_N2"], frame["log_Ha"] = 1.5, 2.0
    frame["log_O3"], frame["log_Hb"] = np.where(agn, 2.5, 1.5), 2.0
    feats = rng.random((n, 8)) * 0.1
    feats[:, 0] += np.where(agn, signal, 0.0)
    save_feature_table(tmp_path / "f.npz", frame, feats, frame[list(study.LINES)].to_numpy(), list(study.LINES))
    return frame["objID"], agn


@pytest.mark.parametrize("separable", [True, False])
def test_agn_svm_must_beat_the_majority_class_with_its_interval(tmp_path, separable):
    _agn_lines(tmp_path, 23, signal=1.0 if separable else 0.0)
    cfg = dataclasses.replace(CFG, top_m=4, n_bootstrap=200)
    svm = study.svm_agn(cfg, load_feature_table(tmp_path / "f.npz"))
    c, h = study.agn_checks("lines", cfg, svm)
    assert c["lines_agn_svm_top4_beats_majority"]["passed"] is separable
    assert c["lines_agn_svm_all_active_beats_majority"]["passed"] is separable
    assert h["lines_agn_svm_top4_accuracy"]["paper"] == "0.85" and h["lines_agn_svm_all_active_f1"]["paper"] == "0.70"
    assert svm["top4"]["n_validation"] == 100 and svm["top4"]["accuracy_ci"]["n"] == 100


def test_ridge_r2_checks_flag_the_twin_and_test_low_r2():
    ridge = {"Z1": _ci(0.2, 0.1, 0.3), "Z2": _ci(0.7, 0.6, 0.8)}
    c, h = study.ridge_checks("metallicity", CFG, ridge)
    assert c["metallicity_ridge_r2_rank1_low"]["passed"] and not c["metallicity_ridge_r2_rank2_low"]["passed"]
    assert not c["metallicity_ridge_features_from_morphology_model"]["passed"]
    assert ck.verdict(h["metallicity_ridge_r2_rank1"], c)[0] == "inconclusive"
    assert h["metallicity_ridge_r2_rank2"]["paper"].startswith("R² 0.107")


def test_explain_components_names_the_truth_a_component_tracks():
    rng = np.random.default_rng(24)
    n = 100
    truth = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "log_mstar": rng.normal(10, 0.5, n),
                          "petroR90_r": rng.normal(5, 1, n), "cos_i": rng.random(n)})
    pcs = np.column_stack([truth["log_mstar"] * 3, truth["cos_i"] + 0.01 * rng.normal(size=n)])[::-1]
    y = (0.3 * truth["log_mstar"]).to_numpy()[::-1, None]
    out = study.explain_components(pcs, np.array([0.6, 0.2]), truth["objID"].to_numpy()[::-1], y, ["oh_p50"], truth, 3)
    assert out["PC1"]["tracks"] == "log_mstar" and out["PC1"]["r_truth"]["log_mstar"] == pytest.approx(1.0)
    assert out["PC2"]["tracks"] == "cos_i" and out["PC1"]["r_target"]["oh_p50"] == pytest.approx(1.0)
    assert out["target_r_with_truth"]["oh_p50"]["log_mstar"] == pytest.approx(1.0) and "PC3" not in out


def test_save_figure_inputs_pads_short_top_galaxy_lists(tmp_path):
    fig = {"acts": np.ones((3, 4)), "scale": np.ones(4), "freq": np.ones(4), "top": np.array([2, 0]),
           "top_rows": {2: np.array([7, 5]), 0: np.array([1])}, "objID": np.array([10, 11, 12])}
    study.save_figure_inputs(tmp_path / "f.npz", fig, 3)
    saved = np.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(saved["top_rows"], [[7, 5, -1], [1, -1, -1]])
    assert saved["objID"].tolist() == ["10", "11", "12"]


def test_compare_target_end_to_end_writes_checks_headlines_and_the_pc_reading(tmp_path, tiny_sfnet):
    """A tiny universe: a random dense twin, SFNets warm-started from it (no fine-tuning)."""
    u = tiny_sfnet(25, k_list=(2, 3))
    rng, n, catalog, images, cfg, dense = u.rng, u.n, u.catalog, u.images, u.cfg, u.dense
    truth = pd.DataFrame({"objID": catalog["objID"], "log_mstar": rng.normal(10, 0.5, n),
                          "petroR90_r": rng.normal(5, 1, n), "cos_i": rng.random(n)})
    metrics, checks, headlines, runs, curve = study.compare_target(cfg, "metallicity", images, catalog, dense, truth)
    assert {"metallicity_sfnet_beats_pca_k2", "metallicity_memorisation_well_posed",
            "metallicity_linear_memorisation_well_posed", "metallicity_memorisation_worse_than_sfnet"} <= set(checks)
    assert not checks["metallicity_linear_memorisation_well_posed"]["passed"]  # 12 galaxies, 512 features
    assert metrics["memorisation"]["linear"]["galaxies_per_feature"] == pytest.approx(12 / 512)
    assert {"metallicity_sfnet_minus_pca_k2", "metallicity_linear_memorisation"} <= set(headlines)
    assert metrics["k_table"]["k2"]["sfnet_minus_pca"]["n"] == 12 and len(runs) == 2
    run_rmse = metrics["k_table"]["k2"]["sfnet"]
    assert metrics["k_table"]["k2"]["sfnet_minus_pca"]["estimate"] == pytest.approx(run_rmse - metrics["k_table"]["k2"]["pca"])
    assert set(metrics["pca_components"]) >= {"PC1", "target_r_with_truth", "n_validation"}
    write_json(tmp_path / "m.json", {**metrics, "checks": checks, "headlines": headlines})  # JSON-safe


def test_feature_study_end_to_end_returns_checks_and_headlines(tmp_path):
    keras.utils.set_random_seed(26)
    rng = np.random.default_rng(26)
    n = 40
    frame = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n), "oh_p50": rng.normal(9.0, 0.2, n),
                          "split": ["train"] * 28 + ["validation"] * 12})
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "validation"]
    images = (rng.random((n, 32, 32, 3)) * 255).astype(np.uint8)
    scaler = Standardiser.fit(train[["oh_p50"]])
    folders = {}
    twin = build_dense_twin(1, images.shape[1:])
    for name in ("dense", "sfnet"):
        folders[name] = layout.ModelFolder(tmp_path / name)
        folders[name].dir.mkdir()
    save_trained(folders["dense"], twin, images, train, val, ["oh_p50"], scaler, 8)
    feats, _ = features_and_outputs(twin, images, train["row"], 8)
    sfnet = sfnet_from_dense(twin, feats, scaler.transform(train[["oh_p50"]]), k=3, trainable_from="stem")
    save_trained(folders["sfnet"], sfnet, images, train, val, ["oh_p50"], scaler, 8)
    truth = pd.DataFrame({"objID": frame["objID"], **{c: rng.random(n) for c in study.TRUTHS}})
    truth["is_disk"] = rng.random(n) < 0.6
    out = layout.sfnet_features().at(tmp_path / "features")
    out.dir.mkdir()
    cfg = dataclasses.replace(CFG, n_bootstrap=100, top_m=2)
    metrics, checks, headlines = study.feature_study("metallicity", cfg, truth, folders["sfnet"], folders["dense"], out)
    assert metrics["accuracy"]["max_active_per_galaxy"] == 3 and metrics["accuracy"]["n_validation"] == 12
    assert {"metallicity_sfnet_beats_mean", "metallicity_dense_beats_mean", "metallicity_sfnet_matches_dense",
            "metallicity_ridge_r2_rank1_low", "metallicity_ridge_features_from_morphology_model"} <= set(checks)
    assert {"metallicity_sfnet_rmse", "metallicity_ridge_r2_rank1", "metallicity_ridge_r2_rank2"} <= set(headlines)
    for head in headlines.values():
        assert set(head["checks"]) <= set(checks)
    write_json(tmp_path / "m.json", {"metallicity": metrics, "checks": checks, "headlines": headlines})


@pytest.mark.parametrize("host_shows_agn", [True, False])
def test_agn_host_truth_ceiling_is_a_validity_check_of_the_svm_headlines(tmp_path, host_shows_agn):
    """The same SVM fed the true host properties: where the hosts carry the AGN it beats the
    majority class and the image-feature SVM is scored against it; where they do not, the SVM
    headlines are inconclusive (the universe cannot show the effect), not 'not reproduced'."""
    ids, agn = _agn_lines(tmp_path, 29)
    rng, n = np.random.default_rng(30), len(ids)
    truth = pd.DataFrame({c: rng.normal(size=n) for c in study.AGN_HOST})
    truth["objID"] = ids
    if host_shows_agn:
        truth["log_mstar"] += np.where(agn, 3.0, 0.0)
    cfg = dataclasses.replace(CFG, top_m=4, n_bootstrap=200)
    svm = study.svm_agn(cfg, load_feature_table(tmp_path / "f.npz"), truth.sample(frac=1, random_state=0))
    assert svm["host_truth"]["columns"] == list(study.AGN_HOST) and svm["host_truth"]["n_validation"] == 100
    assert (svm["host_truth"]["accuracy"] > 0.85) is host_shows_agn
    gap = svm["top4"]["accuracy_minus_host_truth"]
    assert (gap["high"] < 0) is host_shows_agn  # noise features fall short of a host that shows its AGN
    c, h = study.agn_checks("lines", cfg, svm)
    assert c["lines_agn_host_truth_beats_majority"]["passed"] is host_shows_agn
    assert h["lines_agn_svm_top4_accuracy"]["checks"][0] == "lines_agn_host_truth_beats_majority"
    verdict = ck.verdict(h["lines_agn_svm_top4_accuracy"], c)[0]
    assert verdict == ("not reproduced" if host_shows_agn else "inconclusive")
    truth.loc[5, "bulge_frac"] = np.nan
    with pytest.raises(InputError, match=r"truth table \(data.truth\) lacks a value"):
        study.svm_agn(cfg, load_feature_table(tmp_path / "f.npz"), truth)
