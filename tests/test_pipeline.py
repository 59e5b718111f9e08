"""End to end: the real pipeline (`dvc repro`) on a tiny simulated universe in a temporary clone."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# A few dozen galaxies and one short epoch everywhere: the point is that every stage runs and
# connects, not the science (the default run shows that).
TINY = {
    "simulate.n_galaxies": 60,
    "prepare.min_per_split": 3,  # 60 galaxies leave about 9 per validation split
    "simulate.gz_size": 80,
    "train.epochs": {"vgg16": 1, "resnet50v2": 1, "xception": 1},
    "train.batch_size": 8,
    "xai.smooth_samples": 2,
    "xai.batch_size": 16,
    "xai.corr_thresholds": [0.5],
    "xai.len_thresholds": [3],
    "xai.control.epochs": 1,
    "trim.n_images": 4,
    "trim.steps": 2,
    "trim.validate.n_datasets": 2,
    "trim.validate.n_train": 200,
    "trim.validate.epochs": 2,
    "trim.validate.n_explain": 8,
    "trim.validate.steps": 2,
    "sfnet.batch_size": 8,
    "sfnet.dense_epochs": 1,
    "sfnet.epochs": 1,
    "sfnet.zoobot.epochs": 1,
    "sfnet.k_list": [2, 4],
    "sfnet.compare_targets": ["metallicity", "lines"],  # both, though the default sweeps metallicity only
    "sfnet.xgboost": {"n_estimators": 5, "max_depth": 2, "learning_rate": 0.3},
    "scl.iterations": {"photometry": 20, "image": 4},
    "scl.batch_size": {"photometry": 16, "image": 8},
    "scl.epochs": 2,
    "knn.k_max": 10,
    "local_tests.k_nn": 10,
    "mi.iterations": {"photometry": 20, "image": 4},
    "mi.batch_size": {"photometry": 16, "image": 8},
    "mi.epochs": 2,
}


def _set(params, dotted, value):
    node = params
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node[p]
    assert leaf in node, f"TINY overrides unknown key {dotted}"
    node[leaf] = value


def _run(cmd, cwd, env):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res.stdout + res.stderr


def copy_working_tree(dst: Path) -> None:
    """The working tree as it is (tracked and untracked, not ignored) copied to `dst`; untracked
    files count too (work in progress), but not outputs a local run left behind."""
    def listed(*flags):
        return subprocess.run(["git", "ls-files", *flags, "-z"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split("\0")
    files = listed("--cached") + [f for f in listed("--others", "--exclude-standard")
                                  if not f.startswith(("out/", "data/", "dvclive/"))]
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


def clone_env(dst: Path) -> dict:
    """The environment a clone's stages run in: this interpreter's dvc, and the clone's own
    galaxy_xai ahead of the editable install (which points at this working tree, and may have
    moved on since the copy)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(dst), os.environ.get("PYTHONPATH")]))}


def make_clone(dst: Path, edit_params) -> tuple[dict, str]:
    """The working tree copied into a fresh git repo at `dst` with params.yaml rewritten by
    `edit_params(params) -> params` and no lock, then `dvc repro`, committed. Returns the clone's
    environment and the repro's log (tests/smoke_full_scale.py builds its clone the same way)."""
    copy_working_tree(dst)
    params = edit_params(yaml.safe_load(open(dst / "params.yaml")))
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dst / "dvc.lock").unlink(missing_ok=True)
    env = clone_env(dst)
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    _run(["git", "init", "-q", "-b", "main"], dst, env)
    _run(git + ["add", "-A"], dst, env)
    _run(git + ["commit", "-qm", "params"], dst, env)
    out = _run(["dvc", "repro"], dst, env)
    _run(git + ["add", "-A"], dst, env)
    _run(git + ["commit", "-qm", "repro"], dst, env)
    return env, out


def tiny_params(params: dict) -> dict:
    for key, value in TINY.items():
        _set(params, key, value)
    return params


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The working tree as it is in a fresh git repo, with the TINY params, after `dvc repro`."""
    dst = tmp_path_factory.mktemp("clone") / "galaxy-xai"
    env, out = make_clone(dst, tiny_params)
    return dst, env, out


def test_repro_builds_every_output(clone):
    dst, _, log = clone
    assert "Running stage 'simulate'" in log and "Running stage 'prepare'" in log
    truth = pd.read_parquet(dst / "data/simulated/truth.parquet")
    assert len(truth) == TINY["simulate.n_galaxies"]
    cat = pd.read_parquet(dst / "out/prepared/galaxy_zoo/catalog.parquet")
    assert len(cat) == len(truth)
    for family in ["galaxy_zoo", "sdss", "stellar_mass"]:
        assert (dst / f"out/prepared/{family}/images.npy").is_file()


def test_logs_are_readable(clone):
    """No error-level line where nothing failed, and every stage says how long it took."""
    _, _, log = clone
    assert "cuInit" not in log and "Traceback" not in log
    ran = set(re.findall(r"Running stage '([^']+)'", log))
    done = re.findall(r"galaxy_xai.stage: (\S+).*: done in [0-9.]+ s", log)
    assert len(done) == len(ran), (len(done), len(ran))


def test_report_gives_a_verdict_for_every_headline(clone):
    dst, _, _ = clone
    report = (dst / "out/report.md").read_text()
    assert report.startswith("# What this run reproduces")
    heads = 0
    for path in sorted((dst / "out/metrics").glob("*.json")):
        metrics = json.loads(path.read_text())
        for name, check in metrics.get("checks", {}).items():
            assert {"passed", "value", "threshold", "meaning"} <= set(check), (path.name, name)
        for name in metrics.get("headlines", {}):
            heads += 1
            row = next(l for l in report.splitlines() if l.startswith(f"| `{path.stem}` {name} |"))
            assert re.search(r"\| (reproduced|not reproduced|inconclusive)( \(failed: .*\))? \|$", row), row
    assert heads >= 5
    machine = json.loads((dst / "out/metrics/train_vgg16.json").read_text())["machine"]
    assert isinstance(machine["onednn"], bool) and machine["cpu"]["cores"] >= 1


def test_bad_input_through_dvc_is_one_sentence_and_leaves_nothing(clone):
    """A vote cell holding text: `dvc repro` stops at prepare with one sentence naming the file, the
    galaxy and the column; a killed run's temporary folder is swept at the next stage start."""
    dst, env, _ = clone
    votes = dst / "data/simulated/galaxy_zoo/training_solutions_rev1.csv"
    stale = dst / "out/prepared/.tmp-999999999-galaxy_zoo-x"
    try:
        lines = votes.read_text().splitlines()
        cells = lines[3].split(",")
        cells[1] = "abc"
        lines[3] = ",".join(cells)
        votes.write_text("\n".join(lines) + "\n")
        res = subprocess.run(["dvc", "repro", "-s", "-f", "prepare"], cwd=dst, env=env, capture_output=True, text=True)
        assert res.returncode != 0
        assert re.search(r"prepare: error: \S+training_solutions_rev1.csv: column 'Class1.1' of GalaxyID \d+ \(line 4\) "
                         r"holds 'abc', expected a number", res.stderr), res.stderr[-2000:]
        assert "Traceback" not in res.stderr
        assert not list((dst / "out/prepared").glob(".tmp-*"))
        stale.mkdir(parents=True)
        _run(["dvc", "repro", "-s", "-f", "report"], dst, env)
        assert not stale.exists()
    finally:
        _run(["dvc", "checkout", "--force"], dst, env)
        shutil.rmtree(stale, ignore_errors=True)
    assert "abc" not in votes.read_text()


def test_morphology_outputs(clone):
    dst, _, _ = clone
    cat = pd.read_parquet(dst / "out/prepared/galaxy_zoo/catalog.parquet")
    for model in ["vgg16", "resnet50v2", "xception", "ensemble"]:
        train = pd.read_csv(dst / f"out/predictions/{model}/predictions_train.csv")
        test = pd.read_csv(dst / f"out/predictions/{model}/predictions_test.csv")
        ids = pd.concat([train["GalaxyID"], test["GalaxyID"]])
        assert ids.is_unique and set(ids) == set(cat["GalaxyID"]), model
        assert train.shape[1] == 38
    metrics = json.loads((dst / "out/metrics/morphology.json").read_text())
    assert {"vgg16", "resnet50v2", "xception", "ensemble", "train_mean_baseline", "labels"} <= set(metrics)
    assert metrics["ensemble"]["test_rmse"] > 0
    assert (dst / "out/morphology/vgg16/live/metrics.json").is_file()


def test_bar_length_outputs(clone):
    dst, _, _ = clone
    bars = json.loads((dst / "out/metrics/barlength.json").read_text())
    assert bars["chosen"] in bars["modes"]
    control = json.loads((dst / "out/metrics/control.json").read_text())
    assert "vs_catalogue" in control and "vs_truth" in control
    paired = control["heatmap_minus_control"]["vs_truth"]
    assert paired["n"] <= control["vs_truth"]["n"]
    if paired["difference"] is not None:  # the tiny universe may leave too few measured bars
        assert paired["ci95"][0] <= paired["ci95"][1] and 0 <= paired["p_first_better"] <= 1
    maps = np.load(dst / "out/heatmaps/xception/heatmaps.npy")
    assert maps.dtype == np.float16 and maps.min() >= 0 and maps.max() <= 1


TRIM_MODELS = ["vgg16", "resnet50v2", "xception", "sfnet_metallicity"]


def test_trim_outputs(clone):
    dst, _, _ = clone
    params = yaml.safe_load(open(dst / "params.yaml"))
    n_bands = params["trim"]["n_bands"]
    for name in TRIM_MODELS:
        curves = json.loads((dst / f"out/trim/{name}/curves.json").read_text())
        metrics = json.loads((dst / f"out/metrics/trim_{name}.json").read_text())
        for method in params["trim"]["methods"]:
            assert len(curves["methods"][method]["mean"]) == n_bands, (name, method)
            assert 0 <= metrics["methods"][method]["peak_band"] < n_bands
        assert 0 < metrics["n_normalised"] <= metrics["n_images"] <= TINY["trim.n_images"]
    validate = json.loads((dst / "out/metrics/trim_validate.json").read_text())
    for method in params["trim"]["validate"]["methods"]:
        m = validate["methods"][method]
        assert m["n_datasets"] == TINY["trim.validate.n_datasets"] and 0 <= m["errors"] <= m["n_datasets"]
        assert m["error_percent"] <= m["upper95_percent"] <= 100


def test_figures_and_plots_page(clone):
    dst, env, _ = clone
    pngs = {p.name for p in (dst / "out/figures").glob("*.png")}
    assert {"morphology_learning_curves.png", "bar_heatmaps.png", "bar_lengths.png", "morphology_class_heatmaps.png"} <= pngs
    assert {f"trim_{name}.png" for name in TRIM_MODELS} | {"trim_by_property.png", "trim_validate.png"} <= pngs
    _run(["dvc", "plots", "show", "-o", "dvc_plots"], dst, env)
    page = (dst / "dvc_plots" / "index.html").read_text()
    for name in pngs:
        assert name in page, name


def test_second_repro_reruns_nothing(clone):
    dst, env, _ = clone
    log = _run(["dvc", "repro"], dst, env)
    assert "Running stage" not in log
    status = _run(["dvc", "status"], dst, env)
    assert "up to date" in status.lower()


def test_sfnet_outputs(clone):
    dst, _, _ = clone
    k = yaml.safe_load(open(dst / "params.yaml"))["train"]["k"]
    for target, n_out in [("metallicity", 1), ("lines", 4)]:
        train = json.loads((dst / f"out/metrics/train_sfnet_{target}.json").read_text())
        assert train["k"] == k and 0 < train["val_rmse"] < 5 and train["dense_val_rmse"] > 0
        table = np.load(dst / f"out/sfnet/train/{target}/features.npz")
        active = (table["features"] != 0).sum(axis=1)
        assert table["features"].shape[1] == 512 and active.max() <= k and active.mean() > 0
        assert table["predictions"].shape == (len(table["objID"]), n_out)
        assert (dst / f"out/sfnet/train/{target}/live/metrics.json").is_file()
    features = json.loads((dst / "out/metrics/sfnet_features.json").read_text())
    assert 0 < features["metallicity"]["top"]["rank1"]["frequency"] <= 1
    assert {"inclination", "ridge_r2_from_dense"} <= set(features["metallicity"])
    assert {"top4", "all_active"} <= set(features["lines"]["svm_agn"])
    figures = {p.name for p in (dst / "out/figures").glob("*.png")}
    assert "sfnet_equations.png" in figures and any(n.startswith("bpt_lines_SL") for n in figures)
    compare = json.loads((dst / "out/metrics/sfnet_compare.json").read_text())
    assert set(compare) - {"checks", "headlines", "machine"} == set(TINY["sfnet.compare_targets"])
    for target in TINY["sfnet.compare_targets"]:
        assert set(compare[target]["k_table"]) == {f"k{k}" for k in TINY["sfnet.k_list"]}
        assert {"fit_on_train", "fit_on_validation"} <= set(compare[target]["xgboost"])
    assert (dst / "out/figures/sfnet_vs_pca.png").is_file()


def test_exp_run_with_another_k_reruns_only_the_sfnet_stages(clone):
    """`dvc exp run -S train.k=4`: the two SFNets and their analysis rerun (and what consumes the
    SFNet models, e.g. trim@sfnet_metallicity), not the dense twins, the k sweep nor other studies."""
    dst, env, _ = clone
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    try:
        log = _run(["dvc", "exp", "run", "-S", "train.k=4"], dst, env)
        ran = set(re.findall(r"Running stage '([^']+)'", log))
        assert {"train_sfnet@metallicity", "train_sfnet@lines", "sfnet_features"} <= ran, log[-3000:]
        assert all("sfnet" in stage or stage in ("figures", "report") for stage in ran), ran
        assert not ran & {"sfnet_compare", "sfnet_dense@metallicity", "sfnet_dense@lines"}, ran
        diff = _run(["dvc", "metrics", "diff"], dst, env)
        k_rows = [line for line in diff.splitlines() if "train_sfnet_metallicity.json" in line and re.search(r"\bk\b", line)]
        assert k_rows and "4" in k_rows[0], diff
        assert "sfnet_features.json" in diff, diff
    finally:  # leave the clone as the other tests expect it
        _run(git + ["checkout", "--", "."], dst, env)
        _run(["dvc", "checkout", "--force"], dst, env)


def test_stellar_mass_outputs(clone):
    dst, _, _ = clone
    params = yaml.safe_load(open(dst / "params.yaml"))
    n = TINY["simulate.n_galaxies"]
    for name in params["scl"]["datasets"]:
        metrics = json.loads((dst / f"out/metrics/scl_{name}.json").read_text())
        assert np.isfinite(metrics["splits"]["test"]["mean"]["sigma_mad"]), name
        table = pd.read_parquet(dst / f"out/scl/{name}/predictions.parquet")
        assert len(table) == n and table["row"].is_unique
        neighbours = np.load(dst / f"out/knn/{name}/neighbours.npy")
        train_rows = set(table.index[table["split"] == "train"])
        assert neighbours.shape == (n, TINY["knn.k_max"]) and set(np.unique(neighbours)) <= train_rows
        tests = json.loads((dst / f"out/metrics/local_tests_{name}.json").read_text())
        assert {"conditional", "unconditional"} <= set(tests["splits"]["test"])
    for pair in params["mi"]["pairs"]:
        parts = pd.read_parquet(dst / f"out/mi/decompose/{pair}/components.parquet")
        assert len(parts) == n
        mi = json.loads((dst / f"out/metrics/mi_{pair}.json").read_text())
        m = mi["splits"]["test"]
        assert abs(m["redundant"] + m["unique1"] + m["unique2"] + m["synergy"] - m["mi12"]) < 1e-6, pair
