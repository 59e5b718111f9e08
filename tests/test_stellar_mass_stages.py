"""Tests of the stellar-mass study functions (SCL, KNN, local tests, MI decomposition): prediction
tables and metrics, the neighbour search, the local tests' weights and summaries, the MI pair
bookkeeping, the stage functions end to end on a tiny catalogue, and the figures."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_xai import layout
from galaxy_xai.config import mi as mi_config
from galaxy_xai.config.knn import KnnConfig
from galaxy_xai.config.local_tests import LocalTestsConfig
from galaxy_xai.errors import InputError, ParamError, StaleOutputError
from galaxy_xai.info import decomposition as dec
from galaxy_xai.info.binning import bin_centres, bin_edges
from galaxy_xai.io import write_json
from galaxy_xai.models import scl
from galaxy_xai.models import scl_training as sclt
from galaxy_xai.studies import mi as study_mi
from galaxy_xai.studies import stellar_mass as sm


def test_dataset_names_are_checked():
    assert sclt.checked_dataset("Mopt+Ioptnorm", "mi") == "Mopt+Ioptnorm"
    with pytest.raises(ParamError, match="mi.datasets"):
        sclt.checked_dataset("Nope", "mi")


# ------------------------------------------------------------------------------ predictions

def test_prediction_table_and_split_metrics():
    edges = bin_edges(4, 0.0, 4.0)  # centres 0.5 1.5 2.5 3.5
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
    edges = bin_edges(40, 6.0, 12.5)
    y = np.random.default_rng(0).normal(10, 0.5, 500)
    log_prior = sclt.log_prior(y, edges, smoothing=0.2)
    prior = np.exp(log_prior)
    assert prior.sum() == pytest.approx(1.0) and (prior > 0).all()
    centres = bin_centres(edges)
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
    w = sm.latent_weights(latent, neighbours)
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
    dependent = sm.summarise_tests(sm.run_tests(y_dependent, x, c, rng))
    independent = sm.summarise_tests(sm.run_tests(y_independent, x, c, rng))
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
    ref = sm.global_reference(mass, axis_ratio, z, np.arange(300) < 250, rng)
    assert set(ref) == set(sm.TESTS)
    assert abs(ref["corr_cond"]) < 0.2 and abs(ref["pred_eff_cond"]) < 0.05


# ------------------------------------------------------------------------------ neighbours and local tests

def _scl_output(root, name="Mopt", n=60, seed=0):
    """A fake scl@<name> output and the matching prepared catalogue (row = catalogue order)."""
    rng = np.random.default_rng(seed)
    folder = layout.Estimator(root / "scl" / name, f"scl@{name}")
    folder.dir.mkdir(parents=True)
    split = np.array(["train", "validation", "test"])[np.arange(n) % 3]
    pd.DataFrame({"row": np.arange(n), "split": split}).to_parquet(folder.predictions)
    np.save(folder.latent, rng.normal(size=(n, 3)).astype(np.float32))
    prepared = layout.Prepared(root / "prepared")
    prepared.dir.mkdir()
    z = rng.uniform(0.02, 0.2, n)
    pd.DataFrame({"row": np.arange(n), "split": split, "lgm_tot_p50": 10 + 5 * z + 0.1 * rng.normal(size=n),
                  "expAB_r": rng.uniform(0.1, 1, n), "z": z}).to_parquet(prepared.catalog)
    return folder, prepared


TESTS_CFG = LocalTestsConfig(target="lgm_tot_p50", query="expAB_r", condition="z", k_nn=5, weights=False,
                             truth_query="cos_i", n_bootstrap=200, seed=42)


def test_latent_neighbours_and_independence_tests_write_their_folders(tmp_path):
    source, prepared = _scl_output(tmp_path)
    knn = layout.Neighbours(tmp_path / "knn" / "Mopt", "knn@Mopt")
    summary = sm.latent_neighbours(source, KnnConfig(k_max=8, chunk_size=7, workers=2), out=knn)
    assert summary == {"dataset": "Mopt", "k_max": 8, "n_train": 20, "n_galaxies": 60}
    assert knn.read_json("summary") == summary
    neighbours = knn.read_npy("neighbours")
    train = np.flatnonzero(np.arange(60) % 3 == 0)
    assert neighbours.shape == (60, 8) and neighbours.dtype == np.int32 and np.isin(neighbours, train).all()
    assert (neighbours[train, 0] == train).all()  # a training galaxy is its own first neighbour
    with pytest.raises(ParamError, match="knn.k_max"):
        sm.latent_neighbours(source, KnnConfig(k_max=21, chunk_size=7, workers=1), out=knn)

    truth = tmp_path / "truth.parquet"
    pd.DataFrame({"sm_row": np.arange(60)[::-1], "cos_i": np.linspace(0, 1, 60)}).to_parquet(truth)
    out = layout.LocalTests(tmp_path / "local_tests" / "Mopt", "local_tests@Mopt")
    metrics = sm.independence_tests(source, knn, TESTS_CFG, str(truth), out, prepared)
    tests = out.read_parquet("tests")
    assert list(tests.columns) == ["row", "split", *sm.TESTS, *(f"truth_{t}" for t in sm.TESTS)]
    assert set(metrics["splits"]) == {"train", "validation", "test"}
    assert set(metrics["global"]) == set(sm.TESTS) and "truth_cos_i" in metrics
    assert metrics["dataset"] == "Mopt" and metrics["k_nn"] == 5
    # no scl summary: its convergence is unknown, a failed validity check; the test galaxies are counted
    assert not metrics["checks"]["scl_converged"]["passed"] and metrics["n"]["dependence_unconditional"] == 20
    assert set(metrics["headlines"]) == {"local_corr_unconditional", "local_corr_conditional"}
    write_json(source.summary, {"checks": {"converged": {"passed": True, "value": 0.5, "threshold": 0.0,
                                                         "meaning": "m", "kind": "validity"}}})
    # same seed, same numbers; without a truth table the first draws are the same
    again = sm.independence_tests(source, knn, TESTS_CFG, None, out, prepared)
    assert again["splits"] == metrics["splits"] and "truth_cos_i" not in again
    with pytest.raises(ParamError, match="local_tests.k_nn"):
        sm.independence_tests(source, knn, replace(TESTS_CFG, k_nn=9), None, out, prepared)
    with pytest.raises(InputError, match="lacks column"):
        sm.truth_column(str(truth), "inclination", np.arange(60))
    with pytest.raises(InputError, match="missing from the truth table"):
        sm.truth_column(str(truth), "cos_i", np.arange(61))


def test_catalogue_columns_name_the_key_and_refuse_a_stale_catalogue(tmp_path):
    _, prepared = _scl_output(tmp_path)
    values = sm.catalogue_columns(TESTS_CFG, prepared, np.arange(60))
    assert set(values) == {"target", "query", "condition"} and values["query"].dtype == np.float64
    with pytest.raises(StaleOutputError, match="rerun scl"):
        sm.catalogue_columns(TESTS_CFG, prepared, np.arange(1, 61))
    with pytest.raises(ParamError, match="local_tests.query"):
        sm.catalogue_columns(replace(TESTS_CFG, query="expAB_x"), prepared, np.arange(60))


def test_knn_needs_the_scl_output(tmp_path):
    missing = layout.Estimator(tmp_path / "scl" / "Iopt", "scl@Iopt")
    with pytest.raises(StaleOutputError, match="scl@Iopt"):
        sm.latent_neighbours(missing, KnnConfig(k_max=2, chunk_size=4, workers=1), out=layout.knn("Iopt"))


# ------------------------------------------------------------------------------ MI pairs

def mi_cfg(**changes):
    from galaxy_xai.config import read_params

    params = read_params(Path(__file__).resolve().parents[1] / "params.yaml")
    params["mi"] = {**params["mi"], **changes}
    return mi_config.load(params)


def test_pair_datasets_and_the_pairs_config_checks():
    assert mi_config.pair_datasets("Mopt-Ioptnorm") == ("Mopt", "Ioptnorm", "Mopt+Ioptnorm")
    assert mi_config.pair_datasets("Iopt_r-Iopt_ugiz") == ("Iopt_r", "Iopt_ugiz", "Iopt_r+Iopt_ugiz")
    for bad in ("Mopt", "Mopt-", "A-B-C"):
        with pytest.raises(ParamError, match="A-B"):
            mi_cfg(pairs=[bad], datasets=["Mopt"])
    with pytest.raises(ParamError, match=r"mi.datasets.*Iopt-Mir needs Iopt\+Mir"):
        mi_cfg(pairs=["Mopt-Mir", "Iopt-Mir"], datasets=["Mopt", "Mir", "Mopt+Mir", "Iopt"])


def _fake_estimate(root, name, ce, bins=8):
    folder = layout.Estimator(root / name, f"mi_estimate@{name}")
    folder.dir.mkdir(parents=True)
    write_json(folder.summary, {"bins": bins, "y_min": 6.0, "y_max": 12.5,
                                "splits": {"validation": {"cross_entropy": 1.0, "mean": {"sigma_mad": 0.1}}}})
    pd.DataFrame({"row": np.arange(len(ce)), "split": ["train", "validation"] * (len(ce) // 2),
                  "target": np.linspace(9, 11, len(ce)), "cross_entropy": ce}).to_parquet(folder.predictions)


def test_check_estimated_names_what_is_missing(tmp_path):
    cfg = mi_cfg(pairs=["Mopt-Mir"], datasets=["Mopt", "Mir", "Mopt+Mir"], bins=8)
    estimate = lambda d: layout.Estimator(tmp_path / d, f"mi_estimate@{d}")  # noqa: E731
    with pytest.raises(ParamError, match="mi.pairs"):
        study_mi.check_estimated("Mopt-Iopt", cfg, estimate)
    _fake_estimate(tmp_path, "Mopt", np.ones(4))
    _fake_estimate(tmp_path, "Mir", np.ones(4))
    with pytest.raises(StaleOutputError, match=r"no estimate for Mopt\+Mir; run the stage mi_estimate@Mopt\+Mir"):
        study_mi.check_estimated("Mopt-Mir", cfg, estimate)
    _fake_estimate(tmp_path, "Mopt+Mir", np.ones(4))
    names = study_mi.check_estimated("Mopt-Mir", cfg, estimate)
    assert names == ("Mopt", "Mir", "Mopt+Mir")
    table, ces, summaries = study_mi.load_estimates({n: estimate(n) for n in names}, 8, 6.0, 12.5)
    assert len(ces) == 3 and len(table) == 4
    assert study_mi.estimator_quality(summaries)["Mir"] == {"split": "validation", "cross_entropy": 1.0,
                                                            "sigma_mad": 0.1}
    with pytest.raises(StaleOutputError, match="rerun mi_estimate"):
        study_mi.load_estimates({n: estimate(n) for n in names}, 520, 6.0, 12.5)


def test_decompose_pair_writes_components_and_summary(tmp_path):
    cfg = mi_cfg(pairs=["Mopt-Mir"], datasets=["Mopt", "Mir", "Mopt+Mir"], bins=8)
    estimate = lambda d: layout.Estimator(tmp_path / d, f"mi_estimate@{d}")  # noqa: E731
    rng = np.random.default_rng(0)
    for name in ("Mopt", "Mir", "Mopt+Mir"):
        _fake_estimate(tmp_path, name, rng.uniform(0.5, 2.0, 40))
    out = layout.Decomposition(tmp_path / "decompose" / "Mopt-Mir", "mi_decompose@Mopt-Mir")
    metrics = study_mi.decompose_pair("Mopt-Mir", cfg, out, estimate)
    assert metrics["inputs"] == {"input1": "Mopt", "input2": "Mir", "union": "Mopt+Mir"}
    assert set(metrics["splits"]) == {"train", "validation"} and metrics["splits"]["train"]["n"] == 20
    assert out.read_json("summary") == metrics
    components = out.read_parquet("components")
    assert list(components.columns[:3]) == ["row", "split", "prior_surprise"] and len(components) == 40
    np.testing.assert_allclose(components["redundant"] + components["unique1"] + components["unique2"]
                               + components["synergy"], components["mi12"], atol=1e-12)


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
    scores["Iopt"] = {"sigma_mad": 0.4, "bias": 0.0, "eta": 0.01, "converged": False}
    assert sm_plots.estimates_vs_truth({"Mopt": table, "Iopt": table}, scores, tmp_path / "e2.png").stat().st_size > 0
    tests = pd.DataFrame({"split": ["test"] * n, **{c: rng.uniform(-0.5, 0.5, n) for c in
                                                    ("corr", "corr_permuted", "corr_cond", "corr_cond_permuted")}})
    assert sm_plots.corr_vs_null({"Mopt": tests}, tmp_path / "corr.png", "expAB_r", "z").stat().st_size > 0
    means = {"Mopt-Ioptnorm": {"redundant": 1.0, "unique1": 0.2, "unique2": 0.0, "synergy": -0.3, "mi12": 0.9},
             "Mopt-Mir": {"redundant": 0.8, "unique1": 0.0, "unique2": 0.4, "synergy": 0.2, "mi12": 1.4}}
    assert mi_plots.stacked_components(means, tmp_path / "mi.png").stat().st_size > 0


# ------------------------------------------------------------------------------ checks (issue 19)

def _at_prior(n=600, seed=0, gain=0.0, noise=0.3):
    """Targets, splits and cross-entropies `gain` nats below the training prior's surprise."""
    rng = np.random.default_rng(seed)
    y = rng.normal(10.0, 0.6, n)
    split = np.array(["train", "validation", "test"])[np.arange(n) % 3]
    h = dec.training_prior_surprise(y, split == "train", 65, 6.0, 12.5)
    return y, split, h - gain + rng.normal(0, noise, n)


def test_convergence_fails_at_the_prior_and_passes_when_the_estimator_learnt():
    y, split, ce = _at_prior(gain=0.0)
    check, details = dec.convergence(y, split, ce, 65, 6.0, 12.5, n_bootstrap=300, seed=0)
    assert not check["passed"] and check["kind"] == "validity" and details["n"] == 200
    assert details["gain"]["low"] < 0 < details["gain"]["high"]
    # worse than the prior (as scl_Iopt: 2.81 vs 2.78 nats) fails too
    y, split, ce = _at_prior(gain=-0.03, noise=0.05)
    assert not dec.convergence(y, split, ce, 65, 6.0, 12.5, n_bootstrap=300, seed=0)[0]["passed"]
    y, split, ce = _at_prior(gain=0.5)
    check, details = dec.convergence(y, split, ce, 65, 6.0, 12.5, n_bootstrap=300, seed=0)
    assert check["passed"] and check["value"] == pytest.approx(0.5, abs=0.1)
    assert details["prior_cross_entropy"] - details["cross_entropy"] == pytest.approx(check["value"])


def test_training_prior_is_fitted_on_the_training_galaxies_only():
    y = np.array([6.05, 6.05, 6.05, 12.45, 9999.0])
    split = np.array(["train", "train", "train", "test", "test"])
    h = dec.training_prior_surprise(y, split == "train", 2, 6.0, 12.5)
    assert h[0] < 0.01 and h[3] > 6 and np.isnan(h[4])  # the upper bin is empty in training: floored


def test_union_below_an_input_fails_and_a_union_above_passes():
    rng = np.random.default_rng(1)
    split = np.array(["test"] * 300)
    ce_input = rng.uniform(1.5, 2.5, 300)
    below, ci = dec.union_not_below(ce_input, ce_input + 0.25 + rng.normal(0, 0.2, 300), split, "Mopt",
                                    "Mopt+Mir", n_bootstrap=300, seed=0)
    assert not below["passed"] and ci["high"] < 0 and below["value"] == pytest.approx(-0.25, abs=0.05)
    above, _ = dec.union_not_below(ce_input, ce_input - 0.3, split, "Mopt", "Mopt+Mir", n_bootstrap=300, seed=0)
    level, _ = dec.union_not_below(ce_input, ce_input + rng.normal(0, 0.3, 300), split, "Mopt", "Mopt+Mir",
                                   n_bootstrap=300, seed=0, tolerance=0.05)
    assert above["passed"] and level["passed"]  # equal within the CI is not a failure
    # the committed Mopt-Mir pattern: 0.09 nats below, CI touching 0: within the CI but beyond the tolerance
    close = ce_input + 0.09 + rng.normal(0, 0.9, 300)
    loose, ci = dec.union_not_below(ce_input, close, split, "Mopt", "Mopt+Mir", n_bootstrap=300, seed=0,
                                    tolerance=0.2)
    strict, _ = dec.union_not_below(ce_input, close, split, "Mopt", "Mopt+Mir", n_bootstrap=300, seed=0,
                                    tolerance=0.02)
    assert ci["high"] > 0 and loose["passed"] and not strict["passed"] and strict["threshold"] == -0.02


def _fake_tested_estimate(root, name, ce, target):
    folder = layout.Estimator(root / name, f"mi_estimate@{name}")
    folder.dir.mkdir(parents=True)
    write_json(folder.summary, {"bins": 65, "y_min": 6.0, "y_max": 12.5,
                                "splits": {"validation": {"cross_entropy": 1.0, "mean": {"sigma_mad": 0.1}}}})
    split = np.array(["train", "validation", "test"])[np.arange(len(ce)) % 3]
    pd.DataFrame({"row": np.arange(len(ce)), "split": split, "target": target,
                  "cross_entropy": ce}).to_parquet(folder.predictions)


def test_a_union_below_its_input_makes_the_decomposition_inconclusive(tmp_path):
    cfg = mi_cfg(pairs=["Mopt-Mir"], datasets=["Mopt", "Mir", "Mopt+Mir"], n_bootstrap=200)
    y, _, h = _at_prior(n=600, noise=0.0)
    rng = np.random.default_rng(2)
    estimate = lambda d: layout.Estimator(tmp_path / d, f"mi_estimate@{d}")  # noqa: E731
    for name, gain in (("Mopt", 0.9), ("Mir", 0.15), ("Mopt+Mir", 0.6)):  # the committed run's pattern
        _fake_tested_estimate(tmp_path, name, h - gain + rng.normal(0, 0.2, 600), y)
    out = layout.Decomposition(tmp_path / "decompose" / "Mopt-Mir", "mi_decompose@Mopt-Mir")
    metrics = study_mi.decompose_pair("Mopt-Mir", cfg, out, estimate)
    c = metrics["checks"]
    assert all(c[f"converged_{n}"]["passed"] for n in ("Mopt", "Mir", "Mopt+Mir"))
    assert not c["union_not_below_Mopt"]["passed"] and c["union_not_below_Mir"]["passed"]
    assert not metrics["conclusive"] and metrics["inconclusive_because"] == ["union_not_below_Mopt"]
    assert metrics["splits"]["test"]["inconclusive_because"] == ["union_not_below_Mopt"]
    head = metrics["headlines"]["synergy_Mopt-Mir"]
    assert head["low"] <= head["value"] <= head["high"] and metrics["n"]["headline"] == 200
    from galaxy_xai import checks
    assert checks.verdict(head, c)[0] == "inconclusive"
    from galaxy_xai.plots import mi as mi_plots
    assert mi_plots.stacked_components({"Mopt-Mir": metrics["splits"]["test"]}, tmp_path / "mi.png").stat().st_size

    for name, gain in (("Mopt", 0.9), ("Mir", 0.15), ("Mopt+Mir", 1.0)):
        _fake_tested_estimate(tmp_path / "ok", name, h - gain + rng.normal(0, 0.2, 600), y)
    ok = study_mi.decompose_pair("Mopt-Mir", cfg, out, lambda d: layout.Estimator(tmp_path / "ok" / d, d))
    assert ok["conclusive"] and checks.verdict(ok["headlines"]["synergy_Mopt-Mir"], ok["checks"])[0] == "reproduced"


def test_an_estimator_at_the_prior_withholds_its_sigma_mad():
    cfg = mi_cfg(n_bootstrap=200)
    for gain, converged in ((0.0, False), (0.6, True)):
        y, split, ce = _at_prior(gain=gain)
        rng = np.random.default_rng(3)
        table = pd.DataFrame({"split": split, "target": y, "est_mean": y + rng.normal(0, 0.3, len(y)),
                              "cross_entropy": ce})
        out = sclt.estimator_checks("Iopt", table, cfg)
        head = out["headlines"]["sigma_mad_Iopt"]
        assert out["checks"]["converged"]["passed"] is converged and out["sigma_mad_is_result"] is converged
        assert out["sigma_mad"]["estimate"] == pytest.approx(0.3, abs=0.05) and out["n"]["sigma_mad"] == 200
        assert (head["value"] is not None) is converged and head["checks"] == ["converged"]


def test_only_union_estimators_train_until_validation_stops_falling():
    cfg = mi_cfg(union_max_epochs=6, union_patience=1)
    assert sclt.training_epochs("Mopt+Mir", cfg, True) == (6, 1)
    assert sclt.training_epochs("Mopt", cfg, True) == (cfg.epochs, cfg.epochs)
    assert sclt.training_epochs("Mopt+Mir", cfg, False) == (cfg.epochs, cfg.epochs)
    assert sclt.training_epochs("Mopt+Mir", mi_cfg(union_max_epochs=0), True) == (cfg.epochs, cfg.epochs)
    with pytest.raises(ParamError, match="union_max_epochs"):
        mi_cfg(union_max_epochs=1)


def test_local_dependence_check_passes_on_a_dependence_and_fails_on_none():
    from galaxy_xai import checks
    rng = np.random.default_rng(0)
    split = np.array(["test"] * 200)
    null = rng.normal(0, 0.1, 200)
    source = layout.Estimator(Path("/nonexistent/scl/Mopt"), "scl@Mopt")
    for shift, passed in ((0.3, True), (0.0, False)):
        tests = {"corr": null + shift + rng.normal(0, 0.1, 200), "corr_permuted": null,
                 "corr_cond": null + rng.normal(0, 0.1, 200), "corr_cond_permuted": null}
        found = sm.tests_checks(tests, split, source, TESTS_CFG)
        assert found["checks"]["dependence_unconditional"]["passed"] is passed
        assert not found["checks"]["dependence_conditional"]["passed"]
        verdict = checks.verdict(found["headlines"]["local_corr_unconditional"], found["checks"])[0]
        assert verdict == "inconclusive"  # the SCL model's convergence is unknown here


def _train_with(prepared, repo_params, tmp_path, group, **changes):
    """train_and_infer on the session's tiny stellar-mass universe with the repository's params
    of `group` (scl or mi) changed as given; returns nothing, the tests expect a refusal first."""
    from galaxy_xai.config import scl as scl_config

    cfg = replace((scl_config if group == "scl" else mi_config).load(repo_params), **changes)
    sclt.train_and_infer("Mopt", cfg, layout.Estimator(tmp_path / "est", f"{group}@Mopt"), mi_only=group == "mi",
                         prepared=layout.Prepared(prepared / "stellar_mass"))


@pytest.mark.parametrize("group", ["scl", "mi"])
def test_a_batch_larger_than_the_training_split_is_refused_naming_its_key(prepared, repo_params, tmp_path, group):
    with pytest.raises(ParamError, match=rf"key '{group}\.batch_size\.photometry' \(5000\) needs "
                                         rf"{5000 if group == 'mi' else 10000} distinct training galaxies per step, "
                                         r"but .*catalog\.parquet has \d+ with a known"):
        _train_with(prepared, repo_params, tmp_path, group, batch_size={"photometry": 5000, "image": 16})
    assert not (tmp_path / "est").exists()


def test_a_batch_that_does_not_split_over_the_replicas_is_refused_naming_its_key(prepared, repo_params, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setattr(sclt, "replicas", lambda: 2)  # as under mirrored on two devices
    with pytest.raises(ParamError, match=r"key 'scl\.batch_size\.photometry' must be a multiple of the 2 replicas "
                                         r"of train\.distribute=none, got 7"):
        _train_with(prepared, repo_params, tmp_path, "scl", batch_size={"photometry": 7, "image": 16})
    assert not (tmp_path / "est").exists()
