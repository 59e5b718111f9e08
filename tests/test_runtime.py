"""What every stage shares at run time: one-sentence failures, clean-up after a killed run, no NaN
in outputs, training that stops on a non-finite loss, and the machine recorded beside the metrics."""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from galaxy_xai import io, layout, machine, runtime
from galaxy_xai.errors import InputError, TrainingError
from galaxy_xai.models.training import StopOnNonFinite


def _stage(tmp_path, body):
    script = tmp_path / "stages" / "probe.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(textwrap.dedent(body))
    return script


def _run(script, *args, env=None):
    return subprocess.run([sys.executable, str(script), *args], cwd=script.parent.parent, capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_a_project_error_is_one_sentence_and_exit_1(tmp_path):
    script = _stage(tmp_path, """
        from galaxy_xai import runtime
        from galaxy_xai.errors import InputError
        def main(*args):
            raise InputError("votes.csv: column 'Class1.1' holds 'abc', expected a number")
        runtime.run(main)
    """)
    res = _run(script)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == "probe: error: votes.csv: column 'Class1.1' holds 'abc', expected a number"
    assert "Traceback" not in res.stderr
    for debug in (["--debug"], []):  # the switch, or the environment, keeps the traceback
        res = _run(script, *debug, env={} if debug else {runtime.DEBUG_ENV: "1"})
        assert res.returncode == 1 and "Traceback" in res.stderr and "InputError" in res.stderr


def test_a_bug_keeps_its_traceback_and_a_success_says_how_long(tmp_path):
    bug = _stage(tmp_path, """
        from galaxy_xai import runtime
        def main(arg):
            print("got", arg)
            return {}[arg]
        runtime.run(main)
    """)
    res = _run(bug, "x", "--debug")
    assert res.returncode == 1 and "KeyError" in res.stderr and "got x" in res.stdout
    ok = _stage(tmp_path, """
        from galaxy_xai import runtime
        runtime.run(lambda: None)
    """)
    res = _run(ok)
    assert res.returncode == 0 and "galaxy_xai.stage: probe: done in" in res.stderr


def test_no_cuda_error_line_on_a_machine_without_a_gpu(tmp_path):
    script = _stage(tmp_path, """
        import tensorflow as tf
        from galaxy_xai import runtime
        def main():
            print(float(tf.reduce_sum(tf.ones(3))))
        runtime.run(main)
    """)
    res = _run(script, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert res.returncode == 0 and "3.0" in res.stdout
    import tensorflow as tf
    if not tf.config.list_physical_devices("GPU"):
        assert "cuInit" not in res.stderr
        assert not [l for l in res.stderr.splitlines() if l.startswith("E0000")], res.stderr


def test_temporary_folders_of_a_killed_run_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / "prepared" / f"{io.TMP_PREFIX}{int(dead.stdout)}-galaxy_zoo-abc"
    live = tmp_path / "prepared" / f"{io.TMP_PREFIX}{os.getpid()}-sdss-xyz"
    for d in (stale, live):
        (d / "images.npy").parent.mkdir(parents=True)
        (d / "images.npy").write_bytes(b"partial")
    assert io.sweep_stale_temps(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


def test_atomic_writes_use_the_swept_name_and_git_ignores_it(tmp_path):
    with io.atomic_path(tmp_path / "out.json") as tmp:
        assert tmp.parent.name.startswith(f"{io.TMP_PREFIX}{os.getpid()}-out.json-")
        tmp.write_text("{}")
    assert (tmp_path / "out.json").read_text() == "{}"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ignored = subprocess.run(["git", "check-ignore", "-q", "out/prepared/.tmp-123-galaxy_zoo-x/images.npy"], cwd=root)
    assert ignored.returncode == 0


def test_nan_is_refused_in_json_outputs(tmp_path):
    with pytest.raises(ValueError, match=r"non-finite value\(s\) at \['b.c\[1\]'\]; write null and say why"):
        io.write_json(tmp_path / "m.json", {"a": 1.0, "b": {"c": [0.5, float("nan")]}})
    assert not (tmp_path / "m.json").exists()
    io.write_json(tmp_path / "m.json", {"a": None, "a_undefined": "constant input"})
    assert json.loads((tmp_path / "m.json").read_text())["a"] is None


def test_training_on_a_nan_target_stops_naming_the_model_and_epoch():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    y[5] = np.nan
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)], name="vgg16")
    model.compile("sgd", "mse")
    with pytest.raises(TrainingError, match=r"vgg16: the loss became nan at epoch 1 \(batch 1\); check its targets"):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[StopOnNonFinite("vgg16")])
    y[5] = 0.0  # a fresh model (the first one's weights are NaN now) on finite targets: no error
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)], name="vgg16")
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[StopOnNonFinite("vgg16")])


def test_metrics_of_a_tensorflow_stage_record_the_machine(tmp_path, monkeypatch):
    import tensorflow  # noqa: F401  (the stage ran TensorFlow)
    record = machine.record()
    assert record["tensorflow"].startswith("2.") and isinstance(record["onednn"], bool)
    assert record["cpu"]["cores"] >= 1 and "CPU" in record["devices"]
    monkeypatch.setattr(layout, "OUT", tmp_path)
    written = json.loads(layout.write_metrics("probe", {"val_rmse": 0.1}).read_text())
    assert written["val_rmse"] == 0.1 and written["machine"]["onednn"] == record["onednn"]
