"""The checks every study writes and the report that turns them into verdicts."""
import json

import numpy as np
import pytest

from galaxy_xai import checks
from galaxy_xai.stats import pearson_r
from galaxy_xai.studies.report import headline_rows, read_all, render


def test_checks_pass_and_fail_on_their_threshold_and_undefined_values_fail():
    assert checks.at_least(0.3, 0.0, "r above 0")["passed"]
    assert not checks.at_least(-0.1, 0.0, "r above 0")["passed"]
    assert checks.at_most(0.01, 0.05, "gap small")["passed"]
    undefined = checks.at_least(float("nan"), 0.0, "r above 0")
    assert not undefined["passed"] and undefined["value"] is None
    assert not checks.check(True, None, 1.0, "no value")["passed"]
    with pytest.raises(ValueError, match="kind"):
        checks.check(True, 1.0, 1.0, "x", kind="maybe")


def test_bootstrap_ci_covers_a_known_correlation_and_pairs_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = 0.6 * x + 0.8 * rng.normal(size=400)  # true r = 0.6
    ci = checks.bootstrap_ci(pearson_r, x, y, n_bootstrap=300, seed=1)
    assert ci["low"] < 0.6 < ci["high"] and ci["high"] - ci["low"] < 0.2 and ci["n"] == 400
    # paired: resampling x and y independently would destroy the correlation
    assert ci["low"] > 0.4


def test_bootstrap_ci_of_an_undefined_statistic_is_null_not_nan():
    ci = checks.bootstrap_ci(pearson_r, np.ones(10), np.arange(10.0), n_bootstrap=50, seed=0)
    assert ci["estimate"] is None and ci["low"] is None and ci["undefined_draws"] == 50


def _metrics(passed_claim=True, passed_validity=True):
    c = {"beats_size": checks.at_least(0.3 if passed_claim else -0.1, 0.0, "per-R90 r above 0"),
         "maps_depend_on_weights": checks.at_most(0.2 if passed_validity else 0.95, 0.5, "maps change when the "
                                                  "weights are randomised", kind="validity")}
    h = {"per_r90_r": checks.headline("bar lengths from heatmaps track the catalogue", "r = 0.58", 0.3, "",
                                      ["beats_size", "maps_depend_on_weights"], low=0.1, high=0.5)}
    return {"checks": c, "headlines": h}


@pytest.mark.parametrize("claim, validity, expected", [
    (True, True, "reproduced"), (False, True, "not reproduced"), (True, False, "inconclusive"),
    (False, False, "inconclusive"),
])
def test_verdicts_follow_the_kind_of_the_failed_check(claim, validity, expected):
    row, = headline_rows({"barlength": _metrics(claim, validity)})
    assert row["verdict"] == expected
    assert ("maps_depend_on_weights" in row["failed"]) == (not validity)


def test_a_headline_naming_a_missing_check_is_inconclusive():
    m = _metrics()
    m["headlines"]["per_r90_r"]["checks"].append("no_such_check")
    row, = headline_rows({"barlength": m})
    assert row["verdict"] == "inconclusive" and row["failed"] == ["no_such_check"]


def test_the_report_names_verdicts_failed_checks_and_files_without_checks(tmp_path):
    (tmp_path / "barlength.json").write_text(json.dumps(_metrics(True, False)))
    (tmp_path / "train_vgg16.json").write_text(json.dumps({"val_rmse": 0.09}))
    text = render(read_all(tmp_path))
    assert "| `barlength` per_r90_r | bar lengths from heatmaps track the catalogue | r = 0.58 | 0.3 [0.1, 0.5] |" in text
    assert "inconclusive (failed: maps_depend_on_weights)" in text
    assert "**maps_depend_on_weights** failed (validity)" in text
    assert "Metrics without checks" in text and "`train_vgg16`" in text


def test_seed_spread_reads_each_run_from_git_and_tabulates_every_shared_headline(tmp_path, capsys):
    import subprocess

    from galaxy_xai.studies.report import check_rows, main, read_rev, spread_rows

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    (tmp_path / "out" / "metrics").mkdir(parents=True)
    for i, (value, passed) in enumerate([(0.10, True), (0.14, True), (0.12, False)]):
        head = checks.headline("claim", "0.1", value, "dex", ["c"], value - 0.01, value + 0.01)
        metrics = {"headlines": {"rmse": head}, "checks": {"c": checks.at_least(1.0 if passed else -1.0, 0.0, "m")}}
        if i == 0:
            metrics["headlines"]["only_here"] = head
            metrics["checks"]["only_c"] = checks.at_least(2.0, 0.0, "m")
        (tmp_path / "out" / "metrics" / "study.json").write_text(json.dumps(metrics))
        git("add", "out")
        git("commit", "-qm", f"run {i}")
        git("tag", f"seed{i}")
    runs = {f"seed{i}": read_rev(f"seed{i}", tmp_path) for i in range(3)}
    [row] = spread_rows(runs)  # only_here is not in every run
    assert row["headline"] == "rmse" and row["values"] == pytest.approx([0.10, 0.14, 0.12])
    assert row["sd"] == pytest.approx(0.02) and row["range"] == pytest.approx(0.04)
    assert row["ci_half_width"] == pytest.approx(0.01)
    assert row["verdicts"] == ["reproduced", "reproduced", "not reproduced"]
    with pytest.raises(SystemExit, match="'nope' is neither a git revision nor one DVC experiment"):
        read_rev("nope", tmp_path)
    with pytest.raises(SystemExit, match="at least two"):
        main(["--spread", "seed0", "--repo", str(tmp_path)])
    [passed] = [r for r in check_rows(runs) if r["check"] == "c"]
    assert passed["values"] == [1.0, 1.0, -1.0] and passed["passed"] == [True, True, False]
    main(["--checks", "seed0", "seed2", "--repo", str(tmp_path)])
    shown = capsys.readouterr().out
    assert "| `study` | c | 0 | 1 ✓ | -1 ✗ |" in shown and "| `study` | only_c | 0 | 2 ✓ | — |" in shown
