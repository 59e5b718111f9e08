"""The morphology scores: the ensemble, RMSE / AUC (galaxy_xai.stats), predictions and truth labels."""
import keras
import numpy as np
import pandas as pd
import pytest

from galaxy_xai import layout
from galaxy_xai.domain import BACKBONES, VOTE_COLUMNS
from galaxy_xai.errors import InputError, ParamError, StaleOutputError
from galaxy_xai.models.evaluation import ensemble_mean, visible_bar_auc
from galaxy_xai.stats import auc, rmse
from galaxy_xai.studies import morphology as study


def _table(ids, values):
    return pd.DataFrame({"GalaxyID": ids, "Class1.1": values[:, 0], "Class3.1": values[:, 1]})


def test_ensemble_is_the_exact_mean():
    rng = np.random.default_rng(0)
    ids = np.arange(10) + 100
    tables = [_table(ids, rng.uniform(size=(10, 2))) for _ in range(3)]
    ens = ensemble_mean(tables, "GalaxyID")
    expected = sum(t[["Class1.1", "Class3.1"]].to_numpy() for t in tables) / 3
    np.testing.assert_array_equal(ens["GalaxyID"], ids)
    np.testing.assert_allclose(ens[["Class1.1", "Class3.1"]].to_numpy(), expected, rtol=0, atol=1e-15)


def test_ensemble_refuses_misaligned_tables():
    a = _table(np.arange(3), np.zeros((3, 2)))
    b = _table(np.arange(3)[::-1], np.zeros((3, 2)))
    with pytest.raises(StaleOutputError, match="same GalaxyIDs"):
        ensemble_mean([a, b], "GalaxyID")


def test_rmse_and_auc():
    assert rmse([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc([1, 1], [0.1, 0.2]) is None


def test_visible_bar_auc_leaves_out_only_the_edge_on_bars():
    has_bar = np.array([True, True, True, False, False, False])
    seen = np.array([True, True, False, False, False, False])  # the third bar is edge-on
    scores = np.array([0.8, 0.7, 0.1, 0.2, 0.3, 0.4])  # it scores like an unbarred galaxy
    assert auc(has_bar, scores) == pytest.approx(6 / 9)
    # without it the visible bars outrank every unbarred galaxy; the edge-on unbarred one stays
    assert visible_bar_auc(has_bar, seen, scores) == 1.0
    assert visible_bar_auc(has_bar, np.zeros(6, bool), scores) is None  # no visible bar left


def test_backbone_names_come_from_the_domain():
    assert [study.backbone_name(m) for m in BACKBONES] == list(BACKBONES)
    with pytest.raises(ParamError, match="model name must be one of"):
        study.backbone_name("vgg19")


def _gz_folder(tmp_path, n=12):
    """A prepared Galaxy Zoo folder: 8 labelled (train / validation), 4 in the test folder."""
    rng = np.random.default_rng(0)
    cat = pd.DataFrame(rng.uniform(size=(n, len(VOTE_COLUMNS))), columns=VOTE_COLUMNS)
    cat.insert(0, "GalaxyID", 100 + np.arange(n))
    cat["labelled"] = np.arange(n) < 8
    cat["split"] = np.where(np.arange(n) < 6, "train", np.where(np.arange(n) < 8, "validation", "test"))
    cat.loc[~cat["labelled"], VOTE_COLUMNS] = np.nan
    cat["row"] = np.arange(n)
    folder = layout.Prepared(tmp_path / "galaxy_zoo")
    folder.dir.mkdir()
    cat.to_parquet(folder.catalog)
    np.save(folder.images, rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8))
    return folder


def test_predictions_are_written_per_split_in_catalogue_order(tmp_path):
    folder = _gz_folder(tmp_path)
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(len(VOTE_COLUMNS))(keras.layers.GlobalAveragePooling2D()(inputs)))
    out = layout.Predictions(tmp_path / "pred")
    study.write_predictions(model, folder, 5, out)
    written = study.read_predictions(out)
    assert list(written["train"]["GalaxyID"]) == list(range(100, 108)) and list(written["test"]["GalaxyID"]) == list(range(108, 112))
    expected = model.predict(layout.unit_images(folder.read_images()[8:]), verbose=0)
    np.testing.assert_allclose(written["test"][VOTE_COLUMNS], expected, atol=1e-6)


def test_ensemble_scores_every_model_against_the_truth_table(tmp_path):
    folder = _gz_folder(tmp_path)
    cat = folder.read_catalog()
    rng = np.random.default_rng(1)
    truth = pd.DataFrame(rng.uniform(size=(12, len(VOTE_COLUMNS))), columns=[f"votes_{c}" for c in VOTE_COLUMNS])
    truth.insert(0, "GalaxyID", cat["GalaxyID"])
    truth["has_bar"], truth["bar_seen"] = np.arange(12) % 2 == 0, np.arange(12) % 4 == 0
    truth.to_parquet(tmp_path / "truth.parquet")
    for k, m in enumerate(BACKBONES):
        for split, part in (("train", cat[cat["labelled"]]), ("test", cat[~cat["labelled"]])):
            table = pd.DataFrame(np.full((len(part), len(VOTE_COLUMNS)), 0.2 * (k + 1)), columns=VOTE_COLUMNS)
            table.insert(0, "GalaxyID", part["GalaxyID"].to_numpy())
            path = layout.Predictions(tmp_path / m).dir / f"predictions_{split}.csv"
            path.parent.mkdir(exist_ok=True)
            table.to_csv(path, index=False)
    metrics = study.ensemble(folder, tmp_path / "truth.parquet", lambda m: layout.Predictions(tmp_path / m))
    assert set(metrics) == {*BACKBONES, "ensemble", "train_mean_baseline", "labels"}
    labels = study.truth_labels(tmp_path / "truth.parquet", cat["GalaxyID"][8:])
    assert metrics["ensemble"]["test_rmse"] == pytest.approx(rmse(labels[VOTE_COLUMNS], np.full((4, len(VOTE_COLUMNS)), 0.4)))
    assert metrics["ensemble"]["improvement_over_mean"] == pytest.approx(
        1 - metrics["ensemble"]["test_rmse"] / metrics["train_mean_baseline"]["test_rmse"])
    ens = pd.read_csv(tmp_path / "ensemble" / "predictions_test.csv")
    np.testing.assert_allclose(ens[VOTE_COLUMNS], 0.4)
    assert "test_rmse" not in study.ensemble(folder, None, lambda m: layout.Predictions(tmp_path / m))["ensemble"]
    with pytest.raises(InputError, match="missing from the truth table"):
        study.truth_labels(tmp_path / "truth.parquet", [1, 2])
