"""The Zoobot analogue (stage sfnet_zoobot) and the comparisons that read its features: tiny inputs."""
import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from galaxy_xai import checks as ck, layout
from galaxy_xai.config import read_params, sfnet as sfnet_config
from galaxy_xai.domain import SFNET_TARGETS, VOTE_COLUMNS
from galaxy_xai.io import write_json
from galaxy_xai.models.sfnet import build_dense_twin
from galaxy_xai.models.sfnet_training import (
    Standardiser, beats_mean_check, features_and_outputs, load_feature_table, minus_mean, morphology_check, resize_images,
    save_feature_table, save_trained, sfnet_from_dense, target_sample, topk_mask, train_dense, train_zoobot,
)
from galaxy_xai.studies import sfnet as study
from galaxy_xai.xai import sfnet_features as sf

CFG = sfnet_config.load(read_params(Path(__file__).resolve().parents[1] / "params.yaml"))
LINES = list(SFNET_TARGETS["lines"][1])


def _votes(gap_low, gap_high, n=50):
    """A Zoobot summary's "votes" whose RMSE minus the mean votes' has this CI."""
    return {"val_rmse": 0.1, "mean_vote_rmse": 0.12, "n_outputs": 37, "n_train": 100, "n_validation": n,
            "minus_mean": {"estimate": (gap_low + gap_high) / 2, "low": gap_low, "high": gap_high, "n": n,
                           "n_bootstrap": 100, "undefined_draws": 0}}


# ---- the stage's training function -------------------------------------------------------------

def _prepared(tmp_path, rng):
    """A Galaxy Zoo family (40 px, 24 labelled + 4 test galaxies) and an SDSS family (36 px, 30 galaxies)."""
    gz = layout.Prepared(tmp_path / "galaxy_zoo")
    gz.dir.mkdir()
    n = 28
    cat = pd.DataFrame({"GalaxyID": np.arange(n), "row": np.arange(n),
                        "split": ["train"] * 16 + ["validation"] * 8 + ["test"] * 4, "labelled": [True] * 24 + [False] * 4})
    for c in VOTE_COLUMNS:
        cat[c] = np.where(cat["labelled"], rng.random(n), np.nan)
    cat.to_parquet(gz.catalog)
    np.save(gz.images, (rng.random((n, 40, 40, 3)) * 255).astype(np.uint8))
    sdss = layout.Prepared(tmp_path / "sdss")
    sdss.dir.mkdir()
    m = 30
    cat = pd.DataFrame({"objID": [f"s{i}" for i in range(m)], "row": np.arange(m),
                        "split": ["train"] * 20 + ["validation"] * 10, "oh_p50": rng.normal(9, 0.2, m),
                        "in_metallicity": np.arange(m) % 5 != 0, "in_lines": True})
    for c in LINES:
        cat[c] = rng.normal(size=m)
    cat.to_parquet(sdss.catalog)
    np.save(sdss.images, (rng.random((m, 36, 36, 3)) * 255).astype(np.uint8))
    return gz, sdss, cat


def test_train_zoobot_trains_on_votes_and_writes_each_targets_feature_table(tmp_path):
    rng = np.random.default_rng(30)
    gz, sdss, sdss_cat = _prepared(tmp_path, rng)
    cfg = dataclasses.replace(CFG, crop=32, batch_size=8, n_bootstrap=100,
                              zoobot=dataclasses.replace(CFG.zoobot, epochs=1, max_train=None))
    out = layout.sfnet_zoobot().at(tmp_path / "zoobot")
    metrics = train_zoobot(cfg, gz, sdss, out)
    votes = metrics["votes"]
    assert (votes["n_train"], votes["n_validation"], votes["n_outputs"]) == (16, 8, len(VOTE_COLUMNS))
    assert votes["minus_mean"]["n"] == 8 and metrics["epochs_run"] == 1 and metrics["image_px"] == 32
    assert set(metrics["checks"]) == {"zoobot_learned_morphology"}
    assert metrics["checks"]["zoobot_learned_morphology"]["kind"] == "validity"
    assert json.loads(out.summary.read_text())["votes"]["val_rmse"] == pytest.approx(votes["val_rmse"])
    model = keras.models.load_model(out.model, compile=False)
    assert model.input.shape[1:] == (32, 32, 3) and model.output.shape[-1] == len(VOTE_COLUMNS)
    assert model.get_layer("features").output.shape[-1] == 512
    for target, (flag, columns) in SFNET_TARGETS.items():
        table = load_feature_table(getattr(out, f"features_{target}"))
        n = int(sdss_cat[flag].sum())
        assert table["features"].shape == (n, 512) and table["predictions"].shape == (n, len(columns))
        assert table["columns"].tolist() == list(columns) and (table["features"] >= 0).all()
        train, val = target_sample(sdss_cat, target)
        assert table["objID"].tolist() == [*train["objID"], *val["objID"]]
    # the features are those of the saved network on the centre crop of the SDSS images
    table = load_feature_table(out.features_lines)
    crops = np.load(sdss.images)[:, 2:34, 2:34]
    direct, _ = features_and_outputs(model, crops, table["row"][:4], 4)
    np.testing.assert_allclose(table["features"][:4], direct, rtol=1e-4, atol=1e-5)


def test_train_dense_writes_its_own_beats_mean_check(tmp_path):
    _, sdss, sdss_cat = _prepared(tmp_path, np.random.default_rng(31))
    cfg = dataclasses.replace(CFG, crop=32, batch_size=8, n_bootstrap=100, dense_epochs=1)
    metrics = train_dense("metallicity", cfg, sdss, layout.ModelFolder(tmp_path / "dense"))
    check = metrics["checks"]["metallicity_dense_beats_mean"]
    gap = metrics["dense_minus_mean"]
    assert check["kind"] == "validity" and check["value"] == gap["high"] and check["passed"] is (gap["high"] < 0)
    assert gap["n"] == metrics["n_validation"] == int(sdss_cat.loc[sdss_cat["split"] == "validation", "in_metallicity"].sum())


def test_beats_mean_check_passes_a_learned_predictor_and_fails_the_mean():
    rng = np.random.default_rng(3)
    y = rng.normal(9, 0.2, (80, 1))
    learned = minus_mean(CFG, y, y + rng.normal(0, 0.02, y.shape), y.mean(axis=0))
    at_mean = minus_mean(CFG, y, np.full_like(y, y.mean()) + rng.normal(0, 0.1, y.shape), y.mean(axis=0))
    assert beats_mean_check("dense", learned)["passed"] and learned["high"] < 0
    assert not beats_mean_check("dense", at_mean)["passed"] and at_mean["estimate"] > 0


def test_resize_images_averages_areas_and_stays_uint8():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, :2, :2] = 200
    out = resize_images(images, 2)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 2, 3)
    assert out[0, 0, 0, 0] == 200 and out[0, 1, 1, 0] == 0 and not out[1].any()


@pytest.mark.parametrize("low, high, passed", [(-0.03, -0.01, True), (-0.02, 0.01, False)])
def test_learned_morphology_check_needs_the_interval_below_the_mean_votes(low, high, passed):
    c = morphology_check(_votes(low, high))
    assert c["passed"] is passed and c["kind"] == "validity" and c["value"] == high


# ---- the comparisons on synthetic features -----------------------------------------------------

def _frame(rng, n, n_train):
    return pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n),
                         "split": ["train"] * n_train + ["validation"] * (n - n_train), "oh_p50": rng.normal(9, 0.2, n)})


def _zoobot_folder(tmp_path, frame, feats, votes=None):
    folder = layout.sfnet_zoobot().at(tmp_path / "zoobot")
    folder.dir.mkdir()
    save_feature_table(folder.features_metallicity, frame.iloc[::-1], feats[::-1],
                       frame[["oh_p50"]].to_numpy()[::-1], ["oh_p50"])  # another row order: matched on objID
    write_json(folder.summary, {"votes": votes or _votes(-0.03, -0.01)})
    return folder


def _base(rng, tmp_path, frame, twin_noise=0.02):
    dense = layout.ModelFolder(tmp_path / "dense")
    dense.dir.mkdir()
    y = frame[["oh_p50"]].to_numpy()
    save_feature_table(dense.features, frame, rng.random((len(frame), 16)), y + twin_noise * rng.normal(size=y.shape),
                       ["oh_p50"])
    return dense


@pytest.mark.parametrize("informative", [False, True])
def test_zoobot_rows_and_claims_on_features_with_and_without_the_target(tmp_path, informative):
    """Zoobot features that carry no metallicity: every Zoobot claim holds (the SFNet, 0.02 dex, beats
    them); features that carry it exactly: the claims fail. The keys name their source."""
    rng = np.random.default_rng(31)
    n = 600
    frame = _frame(rng, n, 400)
    y = frame["oh_p50"].to_numpy()
    feats = rng.random((n, 8))
    if informative:
        feats[:, 0] = (y - 9) * 10  # the first principal component is the target
    cfg = dataclasses.replace(CFG, k_list=(1, 2), n_bootstrap=200, xgboost={"n_estimators": 20, "max_depth": 2})
    base = study.dense_baselines(cfg, _base(rng, tmp_path, frame))
    zoo = study.zoobot_baselines(cfg, "metallicity", _zoobot_folder(tmp_path, frame, feats), base)
    z = zoo["metrics"]
    assert z["n_validation"] == 200 and z["n_train"] == 400 and set(z["pca"]) == {"k1", "k2"}
    ridge = z["memorisation"]["ridge_cv"]  # fitted on train + validation: the analogue never saw the target
    assert ridge["galaxies_per_feature"] == pytest.approx(600 / 8) and ridge["fitted_on"] == "train + validation"
    assert ridge["rmse_ci"]["n"] == 200 and ridge["rmse_ci"]["estimate"] == pytest.approx(ridge["rmse_validation"])
    assert z["linear"]["fit_on_train"]["n"] == 200 and z["morphology"]["n_validation"] == 50
    sfnet_pred = (base["y"] + 0.02 * rng.normal(size=base["y"].shape))[:, None, :]  # [n, repeats, n_out]
    preds, sweep = {1: sfnet_pred, 2: sfnet_pred}, {1: [0.02], 2: [0.02]}
    metrics = {"k_table": study.k_table(cfg, sweep, preds, base, zoo), "memorisation": base["memorisation"],
               "zoobot": z}
    row = metrics["k_table"]["k1"]
    assert {"pca", "sfnet_minus_pca", "zoobot_pca", "sfnet_minus_zoobot_pca"} <= set(row)
    assert row["sfnet_minus_zoobot_pca"]["n"] == 200
    c, h = study.compare_checks("metallicity", cfg, metrics, sweep, preds, base, zoo)
    assert "metallicity_dense_features_from_morphology_model" not in c  # the twin no longer stands in
    assert "metallicity_memorisation_well_posed" in c  # the twin's own rows stay, under their names
    claims = ["metallicity_zoobot_linear_worse_than_sfnet", "metallicity_zoobot_xgboost_worse_than_sfnet",
              "metallicity_zoobot_memorised_worse_than_sfnet", "metallicity_sfnet_beats_zoobot_pca_k1"]
    for name in claims:
        assert c[name]["passed"] is not informative, name
    assert c["metallicity_zoobot_memorisation_well_posed"]["passed"]  # 600 galaxies, 8 features
    assert c["metallicity_zoobot_learned_morphology"]["passed"]
    assert {"metallicity_linear_memorisation", "metallicity_zoobot_linear_fit_on_train",
            "metallicity_zoobot_xgboost_fit_on_train", "metallicity_sfnet_minus_zoobot_pca_k1",
            "metallicity_sfnet_minus_pca_k1"} <= set(h)
    head = h["metallicity_linear_memorisation"]
    assert head["value"] == pytest.approx(z["memorisation"]["ridge_cv"]["rmse_validation"]) and "0.181" in head["paper"]
    assert ck.verdict(head, c)[0] == ("not reproduced" if informative else "reproduced")
    for head in h.values():
        assert set(head["checks"]) <= set(c)


def test_zoobot_memorisation_with_more_features_than_galaxies_is_flagged_and_a_poor_network_is_inconclusive(tmp_path):
    rng = np.random.default_rng(32)
    n = 100
    frame = _frame(rng, n, 40)  # 60 validation galaxies, 200 features: OLS interpolates
    feats = rng.normal(size=(n, 200))
    cfg = dataclasses.replace(CFG, k_list=(2,), n_bootstrap=100, xgboost={"n_estimators": 3, "max_depth": 2},
                              memorise_alphas=(1e-6, 1e-5))  # too little regularisation to stop it
    base = study.dense_baselines(cfg, _base(rng, tmp_path, frame))
    zoo = study.zoobot_baselines(cfg, "metallicity", _zoobot_folder(tmp_path, frame, feats, _votes(-0.01, 0.02)), base)
    z = zoo["metrics"]
    assert z["memorisation"]["linear"]["rmse"] < 1e-6 and z["memorisation"]["linear"]["galaxies_per_parameter"] <= 1
    assert z["memorisation"]["ridge_cv"]["galaxies_per_parameter"] < 2
    pred = base["y"][:, None, :] + 0.01
    metrics = {"k_table": study.k_table(cfg, {2: [0.01]}, {2: pred}, base, zoo), "memorisation": base["memorisation"],
               "zoobot": z}
    c, h = study.compare_checks("metallicity", cfg, metrics, {2: [0.01]}, {2: pred}, base, zoo)
    assert not c["metallicity_zoobot_memorisation_well_posed"]["passed"]
    assert not c["metallicity_zoobot_learned_morphology"]["passed"]
    verdict, failed = ck.verdict(h["metallicity_linear_memorisation"], c)
    assert verdict == "inconclusive"
    assert set(failed) == {"metallicity_zoobot_memorisation_well_posed", "metallicity_zoobot_learned_morphology"}


def test_zoobot_targets_that_differ_from_the_twins_are_refused(tmp_path):
    rng = np.random.default_rng(33)
    frame = _frame(rng, 60, 40)
    base = study.dense_baselines(dataclasses.replace(CFG, k_list=(2,), xgboost={"n_estimators": 2}),
                                 _base(rng, tmp_path, frame))
    other = frame.assign(oh_p50=frame["oh_p50"] + 0.1)
    with pytest.raises(study.StaleOutputError, match="rerun sfnet_zoobot"):
        study.zoobot_baselines(CFG, "metallicity", _zoobot_folder(tmp_path, other, rng.random((60, 4))), base)


@pytest.mark.parametrize("carried", [False, True])
def test_ridge_from_zoobot_and_its_checks(tmp_path, carried):
    """SFNet features absent from the Zoobot features: low R² (claim passes), the twin's R² higher
    (paired CI); present: high R², the claim fails. The headline reads the Zoobot R²."""
    rng = np.random.default_rng(34)
    n = 300
    frame = _frame(rng, n, 200)
    acts = topk_mask(rng.random((n, 16)), 4)
    save_feature_table(tmp_path / "sfnet.npz", frame, acts, frame[["oh_p50"]].to_numpy(), ["oh_p50"])
    table = load_feature_table(tmp_path / "sfnet.npz")
    twin = np.column_stack([acts, rng.random((n, 4))])  # carries every SFNet feature
    zoo = np.column_stack([acts if carried else rng.random((n, 16)), rng.random((n, 4))])
    save_feature_table(tmp_path / "twin.npz", frame, twin, frame[["oh_p50"]].to_numpy(), ["oh_p50"])
    save_feature_table(tmp_path / "zoo.npz", frame.iloc[::-1], zoo[::-1], frame[["oh_p50"]].to_numpy()[::-1], ["oh_p50"])
    cfg = dataclasses.replace(CFG, n_bootstrap=200, ridge_alpha=0.01)
    top = sf.top_features(table["features"][table["validation"]], 2)
    names = [sf.feature_name("metallicity", j) for j in top]
    twin_r2 = study.ridge_from_dense(cfg, table, load_feature_table(tmp_path / "twin.npz"), top, names)
    ridge = study.ridge_from_zoobot(cfg, table, load_feature_table(tmp_path / "twin.npz"),
                                    load_feature_table(tmp_path / "zoo.npz"), top, names)
    assert list(ridge) == names and ridge[names[0]]["r2"]["n"] == 100
    first = ridge[names[0]]
    assert (first["r2"]["estimate"] > 0.9) is carried
    assert (first["twin_minus_zoobot"]["low"] > 0.5) is not carried
    c, h = study.ridge_checks("metallicity", cfg, twin_r2, ridge, _votes(-0.03, -0.01))
    assert c["metallicity_ridge_zoobot_r2_rank1_low"]["passed"] is not carried
    assert not c["metallicity_ridge_r2_rank1_low"]["passed"]  # the twin carries it
    assert "metallicity_ridge_features_from_morphology_model" not in c
    assert h["metallicity_ridge_r2_rank1"]["value"] == pytest.approx(first["r2"]["estimate"])
    assert ck.verdict(h["metallicity_ridge_r2_rank1"], c)[0] == ("not reproduced" if carried else "reproduced")


def test_compare_target_and_feature_study_end_to_end_with_the_zoobot_analogue(tmp_path, tiny_sfnet):
    """A tiny universe: random twin, SFNets warm-started from it, a random 'Zoobot' (another twin)."""
    u = tiny_sfnet(35, k_list=(2,), top_m=2)
    catalog, images, cfg, train, val, scaler, twin = u.catalog, u.images, u.cfg, u.train, u.val, u.scaler, u.twin
    folders = {"dense": u.dense, "sfnet": layout.ModelFolder(tmp_path / "sfnet")}
    folders["sfnet"].dir.mkdir()
    zoo_net = build_dense_twin(1, images.shape[1:])
    both = pd.concat([train, val], ignore_index=True)
    feats, _ = features_and_outputs(zoo_net, images, both["row"], 8)
    zoobot = layout.sfnet_zoobot().at(tmp_path / "zoobot")
    zoobot.dir.mkdir()
    save_feature_table(zoobot.features_metallicity, both, feats, both[["oh_p50"]].to_numpy(), ["oh_p50"])
    write_json(zoobot.summary, {"votes": _votes(-0.03, -0.01)})
    metrics, checks, headlines, runs, curve = study.compare_target(cfg, "metallicity", images, catalog,
                                                                   folders["dense"], zoobot=zoobot)
    assert {"zoobot", "sources", "linear", "memorisation"} <= set(metrics) and "zoobot_pca" in curve
    assert {"metallicity_zoobot_memorisation_well_posed", "metallicity_sfnet_beats_zoobot_pca_k2"} <= set(checks)
    assert metrics["zoobot"]["memorisation"]["linear"]["galaxies_per_feature"] == pytest.approx(12 / 512)
    assert {"metallicity_linear_memorisation", "metallicity_sfnet_minus_zoobot_pca_k2"} <= set(headlines)
    write_json(tmp_path / "m.json", {**metrics, "checks": checks, "headlines": headlines})  # JSON-safe
    train_feats, _ = features_and_outputs(twin, images, train["row"], 8)
    sfnet = sfnet_from_dense(twin, train_feats, scaler.transform(train[["oh_p50"]]), k=3, trainable_from="stem")
    save_trained(folders["sfnet"], sfnet, images, train, val, ["oh_p50"], scaler, 8)
    out = layout.sfnet_features().at(tmp_path / "features")
    out.dir.mkdir()
    m, c, h = study.feature_study("metallicity", cfg, None, folders["sfnet"], folders["dense"], out, zoobot)
    assert {"ridge_r2_from_dense", "ridge_r2_from_zoobot", "zoobot_morphology"} <= set(m)
    assert {"metallicity_ridge_zoobot_r2_rank1_low", "metallicity_zoobot_learned_morphology"} <= set(c)
    assert set(h["metallicity_ridge_r2_rank1"]["checks"]) <= set(c)
    write_json(tmp_path / "f.json", {"metallicity": m, "checks": c, "headlines": h})


def test_rmse_vs_k_draws_the_zoobot_row_when_present(tmp_path):
    from galaxy_xai.plots import sfnet as plots

    curve = {"k": [2, 4], "sfnet_mean": [0.08, 0.07], "sfnet_sem": [0.0, 0.0], "pca": [0.09, None], "dense": 0.075}
    plots.rmse_vs_k(tmp_path / "a.png", {"metallicity": curve})
    plots.rmse_vs_k(tmp_path / "b.png", {"metallicity": {**curve, "zoobot_pca": [0.11, 0.1]}})
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
