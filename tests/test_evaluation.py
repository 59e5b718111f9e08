import numpy as np
import pandas as pd
import pytest

from galaxy_xai.models.evaluation import auc, ensemble_mean, rmse, visible_bar_auc


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
    with pytest.raises(ValueError, match="same GalaxyIDs"):
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
