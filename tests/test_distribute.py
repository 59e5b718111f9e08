"""train.precision, train.distribute and model.weights (issue 23), on this CPU.

A strategy over several devices is tested by splitting the CPU into two logical devices, which
must happen before TensorFlow initialises: those tests run their training in a fresh Python
process. Every model here is tiny (16 px, a few thousand weights) so the file runs in about a minute.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from galaxy_xai.errors import InputError
from galaxy_xai.models import morphology, sfnet
from galaxy_xai.models.training import image_batches, set_seeds, strategy_scope

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # one device vs two replicas: the same sums in another order (float32)

# A morphology-style model (swish conv, pooled, sigmoid head in float32) and an SCL-style model
# with its own train_step (the loss goes through training.scaled_loss), each trained on the same
# seeded batches with distribute = none and mirrored; the child prints losses and weights as JSON.
COMMON = """
import json, os, sys
import numpy as np
import tensorflow as tf
if int(os.environ.get("LOGICAL_CPUS", "1")) > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(os.environ["LOGICAL_CPUS"]))
import keras
from galaxy_xai.models.morphology import compile_model, swish_initializer
from galaxy_xai.models.training import image_batches, replicas, scaled_loss, set_seeds, strategy, strategy_scope

class CustomStep(keras.Model):
    # the pattern of a custom train_step (SCL): per-replica mean loss -> scaled_loss -> optimizer.apply
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(self(x, training=True) - y))
            scaled = scaled_loss(self.optimizer, loss)
        self.optimizer.apply(tape.gradient(scaled, self.trainable_variables), self.trainable_variables)
        return {"loss": loss}

def tiny(cls=keras.Model):
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="swish", kernel_initializer=swish_initializer())(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return cls(inputs, keras.layers.Dense(3, activation="sigmoid", dtype="float32")(x))

rng = np.random.default_rng(0)
IMAGES, Y = rng.integers(0, 255, (32, 16, 16, 3), dtype=np.uint8), rng.random((32, 3)).astype("float32")

def train(mode, cls, steps_per_epoch=None, epochs=3):
    set_seeds(0)
    with strategy_scope(distribute=mode):
        model = tiny(cls)
        if cls is keras.Model:
            compile_model(model, 1e-2)  # the morphology CNNs' Adam, MSE and RMSE metric
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-2))  # its own loss and logs
        n = replicas()
    # Unshuffled: a distributed dataset draws the generator's epoch order once more than one device
    # does, so a shuffled run sees other (equally seeded, reproducible) batches; the maths is the test.
    ds = image_batches(IMAGES, np.arange(32), Y, 8)
    model.fit(ds, epochs=epochs, verbose=0, steps_per_epoch=steps_per_epoch)
    loss = float(np.mean((np.asarray(model(IMAGES / np.float32(255), training=False)) - Y) ** 2))
    return {"replicas": n, "loss": loss, "weights": [w.ravel().tolist() for w in model.get_weights()]}
"""


def _child(code, env=None, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", COMMON + textwrap.dedent(code)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _same(a, b):
    assert a["loss"] == pytest.approx(b["loss"], rel=TOLERANCE, abs=TOLERANCE)
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(wa, wb, rtol=TOLERANCE, atol=TOLERANCE)


def test_mirrored_on_two_logical_cpus_trains_like_one_device():
    result = _result(_child("""
        out = {f"{mode}_{cls.__name__}": train(mode, cls) for cls in (keras.Model, CustomStep) for mode in ("none", "mirrored")}
        print(json.dumps(out))
    """, env={"LOGICAL_CPUS": "2"}))
    assert result["mirrored_Model"]["replicas"] == 2 and result["none_Model"]["replicas"] == 1
    _same(result["none_Model"], result["mirrored_Model"])  # compile/fit (morphology, control, SFNet)
    _same(result["none_CustomStep"], result["mirrored_CustomStep"])  # custom train_step (SCL pattern)
    assert result["none_Model"]["loss"] < float(np.var(np.random.default_rng(0).random((32, 3))))  # it learnt


# SCL and the MI estimator (galaxy_xai.models.scl): their own train_step, the SCL loss's A/B pairs laid out
# per replica by train_dataset(replicas=N), its latent contrast averaged over replicas and the image
# rotations drawn for the global batch (random_dihedral rows). Photometric sets only: an image SCL model
# (64 px, the smallest the encoder takes) adds ~35 s here; checked by hand with train_scl(mode, False,
# image=True): every logged loss within 1e-6 (relative) of one device. The shuffle is switched off in
# the child: under a strategy train_dataset draws its own seeded epoch orders (a reshuffling dataset
# changed order from run to run there), other batches than one device's; the maths is the test.
SCL = """
tf.data.Dataset.shuffle = lambda self, *args, **kwargs: self
tf.random.experimental.stateless_shuffle = lambda value, seed: value  # train_dataset under a strategy
from galaxy_xai.info.binning import bin_edges
from galaxy_xai.models import scl

def train_scl(mode, mi_only, image=False):
    set_seeds(0)
    rng = np.random.default_rng(0)
    shape, n_add, net = ((64, 64, 2), 1, dict(width=0.0625)) if image else ((5,), 3, dict(n_layers=3, units=16))
    main, add, y = rng.normal(size=(48, *shape)).astype("float32"), rng.normal(size=(48, n_add)).astype("float32"), rng.uniform(8, 11, 48)
    with strategy_scope(distribute=mode):
        model = scl.SCLModel(shape, n_add, bins=8, mi_only=mi_only, seed=0, **net)
        model.compile(optimizer=scl.scl_optimizer(6, 1e-3))
        n = replicas()
    ds = scl.train_dataset(main, add, y, bin_edges(8, 6.0, 12.5), 4 if image else 8, pairs=not mi_only, seed=0, replicas=n)
    history = model.fit(ds, epochs=1 if image else 2, steps_per_epoch=2 if image else 3, verbose=0).history
    return {"replicas": n, "loss": history["loss"][-1], "history": {k: [float(v) for v in vs] for k, vs in history.items()},
            "weights": [w.ravel().tolist() for w in model.get_weights()]}
"""


def test_scl_and_mi_estimator_under_mirrored_on_two_logical_cpus_train_like_one_device():
    result = _result(_child(SCL + textwrap.dedent("""
        out = {f"{mode}_{mi}": train_scl(mode, mi) for mi in (False, True) for mode in ("none", "mirrored")}
        print(json.dumps(out))
    """), env={"LOGICAL_CPUS": "2"}))
    for mi in (False, True):
        one, two = result[f"none_{mi}"], result[f"mirrored_{mi}"]
        assert (one["replicas"], two["replicas"]) == (1, 2)
        _same(one, two)  # last loss and every weight to TOLERANCE
        assert one["history"].keys() == two["history"].keys()
        for key in one["history"]:  # every logged term (ce, recon, ycontrast, lcontrast) of every epoch
            np.testing.assert_allclose(one["history"][key], two["history"][key], rtol=TOLERANCE, atol=TOLERANCE)
    assert set(result["none_False"]["history"]) >= {"ce", "recon", "ycontrast", "lcontrast"}


def test_scl_pairs_batches_are_laid_out_per_replica(monkeypatch):
    import tensorflow as tf
    monkeypatch.setattr(tf.data.Dataset, "shuffle", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(tf.random.experimental, "stateless_shuffle", lambda value, seed: value)
    from galaxy_xai.info.binning import bin_edges
    from galaxy_xai.models import scl
    main = np.arange(16, dtype=np.float32)[:, None]
    edges = bin_edges(4, 0.0, 16.0)
    one = next(iter(scl.train_dataset(main, main, np.arange(16.0), edges, 4, seed=0)))[0][0].numpy()[:, 0]
    two = next(iter(scl.train_dataset(main, main, np.arange(16.0), edges, 4, seed=0, replicas=2)))[0][0].numpy()[:, 0]
    a, b = one[:4], one[4:]  # one device: A = first half, B = second half, pairs (a[i], b[i])
    np.testing.assert_array_equal(two, np.concatenate([a[:2], b[:2], a[2:], b[2:]]))  # replica r: [A_r; B_r]
    with pytest.raises(ValueError, match="3 replicas"):
        scl.train_dataset(main, main, np.arange(16.0), edges, 4, replicas=3)
    monkeypatch.undo()  # under a strategy: the same seeded batches on every iterator and every run
    batches = [[next(iter(scl.train_dataset(main, main, np.arange(16.0), edges, 4, seed=1, replicas=2)))[0][0].numpy()[:, 0]
                for _ in range(2)] for _ in range(2)]
    np.testing.assert_array_equal(batches[0][0], batches[1][1])
    assert len(set(batches[0][0])) == 8


def test_default_scl_training_is_bit_identical_to_the_step_without_precision_or_strategy():
    """float32 on one device: scaled_loss is the identity and the float32 heads are the float32
    policy's layers, so SCL trains bit for bit as the train_step before issue 23 (reproduced here).
    (The change was also checked against the previous commit: 2 epochs of photometric and 64 px
    image SCL and MI estimators, identical losses and weight hashes.)"""
    import tensorflow as tf
    from galaxy_xai.info.binning import bin_edges
    from galaxy_xai.models import scl

    class Before(scl.SCLModel):
        def train_step(self, data):
            (main, additional), y = data
            with tf.GradientTape() as tape:
                losses = self.scl_losses(main, additional, y)
            self.optimizer.apply(tape.gradient(losses["loss"], self.trainable_variables), self.trainable_variables)
            return self._report(losses)

    rng = np.random.default_rng(0)
    main, add, y = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 3)).astype("float32"), rng.uniform(8, 11, 32)
    runs = []
    for cls, scoped in ((Before, False), (scl.SCLModel, True)):
        set_seeds(0)
        with strategy_scope(precision="float32", distribute="none") if scoped else contextlib.nullcontext():
            model = cls((5,), 3, bins=8, n_layers=3, units=16, seed=0)
            model.compile(optimizer=scl.scl_optimizer(4, 1e-3))
        ds = scl.train_dataset(main, add, y, bin_edges(8, 6.0, 12.5), 8, seed=0)
        runs.append((model.fit(ds, epochs=2, steps_per_epoch=2, verbose=0).history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_scl_trains_with_float32_heads_and_outputs(precision, tmp_path):
    from galaxy_xai.info.binning import bin_edges
    from galaxy_xai.models import scl
    rng = np.random.default_rng(0)
    main, add, y = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 3)).astype("float32"), rng.uniform(8, 11, 32)
    set_seeds(0)
    with strategy_scope(precision=precision):
        model = scl.SCLModel((5,), 3, bins=8, n_layers=3, units=16, seed=0)
        model.compile(optimizer=scl.scl_optimizer(4, 1e-3))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    compute = precision.removeprefix("mixed_")
    assert model.encoder.layers[2].compute_dtype == compute  # a hidden layer computes in 16 bits
    for net in (model.encoder, model.decoder, model.estimator):  # latent, reconstruction, logits: float32
        assert net.layers[-1].compute_dtype == "float32" and net.output.dtype == "float32"
    history = model.fit(scl.train_dataset(main, add, y, bin_edges(8, 6.0, 12.5), 8, seed=0), epochs=2, steps_per_epoch=2,
                        verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    out = scl.infer(model, main, add)
    assert out["latent"].dtype == np.float32 and out["p"].dtype == np.float32
    np.testing.assert_allclose(out["p"].sum(1), 1, atol=1e-5)
    model.save(tmp_path / "scl.keras")
    loaded = keras.models.load_model(tmp_path / "scl.keras", compile=False)
    assert np.asarray(loaded((main[:4], add[:4]))).dtype == np.float32
    assert loaded.encoder.layers[2].compute_dtype == compute


def test_mixed_float16_image_scl_keeps_its_reconstruction_in_float32():
    from galaxy_xai.info.binning import bin_edges
    from galaxy_xai.models import scl
    rng = np.random.default_rng(0)
    main, add, y = rng.normal(size=(4, 64, 64, 2)).astype("float32"), rng.normal(size=(4, 1)).astype("float32"), rng.uniform(8, 11, 4)
    set_seeds(0)
    with strategy_scope(precision="mixed_float16"):
        model = scl.SCLModel((64, 64, 2), 1, bins=8, width=0.0625, seed=0)  # 64 px: the smallest the encoder takes
        model.compile(optimizer=scl.scl_optimizer(2, 1e-3))
    assert model.decoder.output.dtype == "float32" and model.encoder.output.dtype == "float32"
    # one eager SCL loss (three passes, reconstruction of the rotated copy): no graph to trace
    labels = np.eye(8, dtype=np.float32)[np.digitize(y, bin_edges(8, 6.0, 12.5)[1:-1])]
    losses = model.scl_losses(*(keras.ops.convert_to_tensor(a) for a in (main, add, labels)))
    assert all(v.dtype == "float32" and np.isfinite(float(v)) for v in losses.values())


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_local_workers_train_with_fit_under_multi_worker_mirrored_like_one_device():
    """Two workers on the loopback address run the stages' path, Keras fit() (a compiled morphology
    model and a custom train_step), through training.strategy's reduce adapter for Keras 3.15."""
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    code = """
        strategy("multi_worker")  # before any other op
        out = {cls.__name__: train("multi_worker", cls, steps_per_epoch=4, epochs=2) for cls in (keras.Model, CustomStep)}
        print(json.dumps(out))
    """
    procs = [_child(code, env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    one = _child("""
        out = {cls.__name__: train("none", cls, steps_per_epoch=4, epochs=2) for cls in (keras.Model, CustomStep)}
        print(json.dumps(out))
    """)
    try:
        chief, other = (_result(p, timeout=180) for p in procs)
        alone = _result(one, timeout=180)
    finally:
        for p in (*procs, one):
            p.kill() if p.poll() is None else None
    for name in ("Model", "CustomStep"):
        assert (chief[name]["replicas"], other[name]["replicas"], alone[name]["replicas"]) == (2, 2, 1)
        for wa, wb in zip(chief[name]["weights"], other[name]["weights"]):
            np.testing.assert_array_equal(wa, wb)  # the all-reduce keeps the workers' weights identical
        _same(chief[name], alone[name])  # and the pair trains as one device on the same global batches


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_saves_a_model_with_float32_outputs(precision, tmp_path):
    rng = np.random.default_rng(0)
    images, y = rng.integers(0, 255, (16, 16, 16, 3), dtype=np.uint8), rng.random((16, 2)).astype("float32")
    set_seeds(0)
    with strategy_scope(precision=precision):
        model = sfnet.build_sfnet(4, 2, (16, 16, 3), widths=(4, 4, 8, 8), blocks=(1, 1, 1, 1))
        sfnet.compile_sfnet(model, 1e-3, decay_steps=4)
    assert keras.mixed_precision.global_policy().name == "float32"  # set back on leaving
    assert model.get_layer("features").compute_dtype == precision.removeprefix("mixed_")
    history = model.fit(image_batches(images, np.arange(16), y, 8), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    loss_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert loss_scaled == (precision == "mixed_float16")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    out = loaded.predict(images[:4] / np.float32(255), verbose=0)
    assert out.dtype == np.float32 and loaded.output.dtype == "float32"
    assert loaded.get_layer("features").compute_dtype == precision.removeprefix("mixed_")
    with strategy_scope(precision=precision):
        morph = morphology.build_model("vgg16", (32, 32, 3), 3)
        control = morphology.build_regressor((71, 71, 3))
    assert morph.output.dtype == "float32" and control.output.dtype == "float32"
    assert morph.get_layer("fc1").compute_dtype == precision.removeprefix("mixed_")


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A local weights file of the headless VGG16 (as ImageNet weights fetched once elsewhere)."""
    path = tmp_path_factory.mktemp("weights") / "vgg16_notop.weights.h5"
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    source.save_weights(path)
    return path, source


def test_a_local_weights_file_is_loaded_into_the_backbone(vgg16_file):
    path, source = vgg16_file
    template = str(path).replace("vgg16", "{backbone}")  # one setting for every backbone
    model = morphology.build_model("vgg16", (32, 32, 3), 3, weights=template)
    for name in ("block1_conv1", "block5_conv3"):
        for got, want in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert model.get_layer("block1_conv1").get_config()["activation"] in ("swish", "silu")  # kept the swish rebuild


def test_a_weights_file_that_does_not_fit_the_backbone_is_refused_in_one_sentence(vgg16_file):
    path, _ = vgg16_file
    with pytest.raises(InputError) as err:
        morphology.build_model("resnet50v2", (32, 32, 3), 3, weights=str(path))
    message = str(err.value)
    assert str(path) in message and "resnet50v2" in message and "\n" not in message
    with pytest.raises(InputError, match=r"no such file .*xception"):
        morphology.build_regressor((71, 71, 3), weights=str(path.parent / "{backbone}_notop.h5"))
