"""Tests of the stellar-mass stages' own functions: params, prediction tables and metrics, the local
tests' weights and summaries, the MI pair bookkeeping, and the figures."""
import json

import numpy as np
import pandas as pd
import pytest

from galaxy_xai.io import ParamError
from galaxy_xai.models import scl
from galaxy_xai.models import scl_training as sclt
from stages import local_tests as lt
from stages import mi_decompose as md
from stages import scl as st

ESTIMATOR = {"target": "lgm_tot_p50", "bins": 520, "y_min": 6.0, "y_max": 12.5, "m": None, "width": 0.125,
             "iterations": {"photometry": 300, "image": 30}, "batch_size": {"photometry": 32, "image": 16},
             "lr": 1e-3, "lr_drop_fraction": 0.3333, "lr_drop_factor": 5.0, "epochs": 3, "p_lo": 0.1,
             "p_hi": 100.0, "infer_batch_size": 256, "seed": 1, "prior_smoothing": 0.05,
             "keep_best": True}


def scl_params(**changes):
    group = {**ESTIMATOR, "datasets": ["Mopt"], "e": None, "coeff_recon": None, **changes}
    return {"scl": group}


# ------------------------------------------------------------------------------ params

def test_scl_settings_reads_every_key():
    cfg = st.scl_settings(scl_params())
    assert cfg["iterations"] == {"photometry": 300, "image": 30} and cfg["e"] is None and cfg["lr"] == 1e-3


@pytest.mark.parametrize("changes, words", [
    ({"epochs": 7}, "must divide"),
    ({"y_max": 5.0}, "must exceed"),
    ({"iterations": {"photometry": 300}}, "photometry and image"),
    ({"batch_size": {"photometry": 0, "image": 16}}, "positive integer"),
    ({"lr": "fast"}, "scl.lr"),
    ({"typo": 1}, "unknown key"),
    ({"prior_smoothing": -1}, "prior_smoothing"),
])
def test_scl_settings_fail_with_one_clear_sentence(changes, words):
    with pytest.raises(ParamError, match=words):
        st.scl_settings(scl_params(**changes))


def test_dataset_names_are_checked():
    assert sclt.checked_dataset("Mopt+Ioptnorm", "mi") == "Mopt+Ioptnorm"
    with pytest.raises(ParamError, match="mi.datasets"):
        sclt.checked_dataset("Nope", "mi")


# ------------------------------------------------------------------------------ predictions

def test_prediction_table_and_split_metrics():
    edges = scl.bin_edges(4, 0.0, 4.0)  # centres 0.5 1.5 2.5 3.5
    p = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 1]], float)
    y = np.array([1.2, 2.7, np.nan, 3.1])
    cat = pd.DataFrame({"row": [10, 11, 12, 13], "split": ["train", "train", "test", "test"]})
    out = {"p": p, **scl.point_estimates(p, edges)}
    table = sclt.prediction_table(cat, y, out, edges)
    assert list(table["row"]) == [10, 11, 12, 13]
    np.testing.assert_allclose(table["cross_entropy"], [0, 0, np.nan, 0], atol=1e-12)
    np.testing.assert_allclose(table["est_mode"], [1.5, 2.5, 0.5, 3.5])
    masks = sclt.split_masks(cat, y)
    assert masks["test"].tolist() == [False, False, False, True]  # the null target is left out
    metrics = sclt.split_metrics(table, p, masks, edges)
    assert set(metrics) == {"train", "test"} and metrics["test"]["n"] == 1
    assert metrics["train"]["mean"]["bias"] == pytest.approx(((1.5 - 1.2) + (2.5 - 2.7)) / 2)
    assert metrics["train"]["crps"] == pytest.approx(0.0)


def test_prior_bias_makes_the_untrained_estimator_predict_the_smoothed_prior():
    edges = scl.bin_edges(40, 6.0, 12.5)
    y = np.random.default_rng(0).normal(10, 0.5, 500)
    log_prior = sclt.log_prior(y, edges, smoothing=0.2)
    prior = np.exp(log_prior)
    assert prior.sum() == pytest.approx(1.0) and (prior > 0).all()
    centres = scl.bin_centres(edges)
    assert np.sum(prior * centres) == pytest.approx(10.0, abs=0.05)
    model = scl.SCLModel((5,), 0, bins=40, n_layers=2, mi_only=True, seed=0)
    sclt.start_at_prior(model, y, edges, smoothing=0.2)
    out = scl.infer(model, np.zeros((3, 5), np.float32), np.zeros((3, 0), np.float32))
    # the kernel still adds a little; the bias dominates at initialisation
    assert np.abs(out["mean"] - 10.0).max() < 0.3


# ------------------------------------------------------------------------------ local tests

def test_latent_weights_fall_with_distance_and_self_weighs_one():
    latent = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    neighbours = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    w = lt.latent_weights(latent, neighbours)
    assert w.shape == (3, 3) and np.allclose(w[:, 0], 1.0)
    assert (np.diff(w, axis=1) < 0).all()
    # the bandwidth is the median neighbour distance: weight exp(-1/2) there
    assert w[0, 1] == pytest.approx(np.exp(-0.5))


def test_run_tests_sees_a_dependence_only_where_there_is_one():
    rng = np.random.default_rng(3)
    n, k = 400, 60
    c = rng.normal(size=(n, k))
    x = rng.normal(size=(n, k))
    y_dependent = c + 0.8 * x + 0.3 * rng.normal(size=(n, k))
    y_independent = c + 0.3 * rng.normal(size=(n, k))
    dependent = lt.summarise_tests(lt.run_tests(y_dependent, x, c, rng))
    independent = lt.summarise_tests(lt.run_tests(y_independent, x, c, rng))
    assert dependent["conditional"]["frac_beyond_null_band"] > 0.9
    assert dependent["conditional"]["mean_pred_eff"] > 0.7
    assert independent["conditional"]["frac_beyond_null_band"] < 0.12
    assert abs(independent["conditional"]["mean_corr"]) < 0.05
    # unconditionally c hides most of x's share of y, but the link is still there
    assert dependent["unconditional"]["mean_corr"] > 0.3


def test_global_reference_is_one_neighbourhood_of_all_training_galaxies():
    rng = np.random.default_rng(0)
    z = rng.uniform(0.02, 0.2, 300)
    mass = 10 + 5 * z + 0.1 * rng.normal(size=300)
    axis_ratio = rng.uniform(0.1, 1, 300)
    axis_ratio[:5] = -9999.0  # nulls are dropped
    ref = lt.global_reference(mass, axis_ratio, z, np.arange(300) < 250, rng)
    assert set(ref) == set(lt.TESTS)
    assert abs(ref["corr_cond"]) < 0.2 and abs(ref["pred_eff_cond"]) < 0.05


# ------------------------------------------------------------------------------ MI pairs

def test_pair_datasets_and_missing_ones():
    assert md.pair_datasets("Mopt-Ioptnorm") == ("Mopt", "Ioptnorm", "Mopt+Ioptnorm")
    assert md.pair_datasets("Iopt_r-Iopt_ugiz") == ("Iopt_r", "Iopt_ugiz", "Iopt_r+Iopt_ugiz")
    for bad in ("Mopt", "Mopt-", "A-B-C"):
        with pytest.raises(ParamError, match="A-B"):
            md.pair_datasets(bad)
    missing = md.missing_datasets(["Mopt-Mir", "Iopt-Mir"], ["Mopt", "Mir", "Mopt+Mir", "Iopt"])
    assert missing == {"Iopt-Mir": ["Iopt+Mir"]}


def _fake_estimate(root, name, ce, bins=8):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"bins": bins, "y_min": 6.0, "y_max": 12.5,
                                                     "splits": {"validation": {"cross_entropy": 1.0, "mean": {"sigma_mad": 0.1}}}}))
    pd.DataFrame({"row": np.arange(len(ce)), "split": ["train", "validation"] * (len(ce) // 2),
                  "target": np.linspace(9, 11, len(ce)), "cross_entropy": ce}).to_parquet(folder / "predictions.parquet")


def test_check_estimated_names_what_is_missing(tmp_path):
    params = {"mi": {"pairs": ["Mopt-Mir"], "datasets": ["Mopt", "Mir"]}}
    with pytest.raises(ParamError, match=r"mi.datasets.*Mopt-Mir needs Mopt\+Mir"):
        md.check_estimated("Mopt-Mir", params, tmp_path)
    params["mi"]["datasets"].append("Mopt+Mir")
    _fake_estimate(tmp_path, "Mopt", np.ones(4))
    _fake_estimate(tmp_path, "Mir", np.ones(4))
    with pytest.raises(ParamError, match=r"no estimate for Mopt\+Mir"):
        md.check_estimated("Mopt-Mir", params, tmp_path)
    _fake_estimate(tmp_path, "Mopt+Mir", np.ones(4))
    assert md.check_estimated("Mopt-Mir", params, tmp_path) == ("Mopt", "Mir", "Mopt+Mir")
    table, ces, summaries = md.load_estimates(("Mopt", "Mir", "Mopt+Mir"), tmp_path, 8, 6.0, 12.5)
    assert len(ces) == 3 and len(table) == 4
    assert md.estimator_quality(summaries)["Mir"] == {"split": "validation", "cross_entropy": 1.0, "sigma_mad": 0.1}
    with pytest.raises(ParamError, match="rerun mi_estimate"):
        md.load_estimates(("Mopt", "Mir", "Mopt+Mir"), tmp_path, 520, 6.0, 12.5)


# ------------------------------------------------------------------------------ figures

def test_figures_are_written(tmp_path):
    from galaxy_xai.plots import mi as mi_plots
    from galaxy_xai.plots import stellar_mass as sm_plots

    rng = np.random.default_rng(0)
    n = 120
    target = rng.normal(10.5, 0.4, n)
    table = pd.DataFrame({"split": ["test"] * n, "target": target, "est_mean": target + rng.normal(0, 0.1, n)})
    scores = {"Mopt": {"sigma_mad": 0.1, "bias": 0.0, "eta": 0.01}}
    assert sm_plots.estimates_vs_truth({"Mopt": table, "Iopt": table}, scores, tmp_path / "est.png").stat().st_size > 0
    tests = pd.DataFrame({"split": ["test"] * n, **{c: rng.uniform(-0.5, 0.5, n) for c in
                                                    ("corr", "corr_permuted", "corr_cond", "corr_cond_permuted")}})
    assert sm_plots.corr_vs_null({"Mopt": tests}, tmp_path / "corr.png", "expAB_r", "z").stat().st_size > 0
    means = {"Mopt-Ioptnorm": {"redundant": 1.0, "unique1": 0.2, "unique2": 0.0, "synergy": -0.3, "mi12": 0.9},
             "Mopt-Mir": {"redundant": 0.8, "unique1": 0.0, "unique2": 0.4, "synergy": 0.2, "mi12": 1.4}}
    assert mi_plots.stacked_components(means, tmp_path / "mi.png").stat().st_size > 0
