"""The ensemble's checks (issue 19) on constructed predictions: must pass and must fail."""
import numpy as np

from galaxy_xai.studies.ensemble import ensemble_checks, rmse_difference


def _members(rng, n=200, columns=5):
    y = rng.random((n, columns))
    # independent errors: their mean is closer to the truth than any one of them
    members = {m: y + rng.normal(0, 0.1, y.shape) for m in ("vgg16", "resnet50v2", "xception")}
    return y, members


def test_an_averaging_ensemble_passes_both_checks():
    rng = np.random.default_rng(0)
    y, members = _members(rng)
    ens = np.mean(list(members.values()), axis=0)
    mean_votes = np.tile(y.mean(axis=0), (len(y), 1))
    comparisons, found, heads = ensemble_checks(members, ens, mean_votes, y, {"vgg16": 0.1, "resnet50v2": 0.2, "xception": 0.3}, 300, 0)
    assert comparisons["best_member"] == "vgg16" and comparisons["n_test"] == 200
    assert found["ensemble_beats_best_member"]["passed"] and found["ensemble_beats_mean_votes"]["passed"]
    head = heads["ensemble_rmse"]
    assert head["low"] <= head["value"] <= head["high"] and set(head["checks"]) == set(found)


def test_an_ensemble_no_better_than_its_best_member_or_the_mean_votes_fails():
    rng = np.random.default_rng(1)
    y, members = _members(rng)
    mean_votes = np.tile(y.mean(axis=0), (len(y), 1))
    val = {"vgg16": 0.1, "resnet50v2": 0.2, "xception": 0.3}
    _, found, _ = ensemble_checks(members, members["vgg16"], mean_votes, y, val, 300, 0)
    assert not found["ensemble_beats_best_member"]["passed"]
    _, found, _ = ensemble_checks(members, mean_votes, mean_votes, y, val, 300, 0)
    assert not found["ensemble_beats_mean_votes"]["passed"]


def test_rmse_difference_is_paired_and_signed():
    rng = np.random.default_rng(2)
    y = rng.random((50, 3))
    got = rmse_difference(y, y + 0.1, y + 0.2, 200, 0)
    assert np.isclose(got["estimate"], -0.1) and got["high"] < 0 and got["n"] == 50
