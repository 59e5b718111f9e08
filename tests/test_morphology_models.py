"""Morphology CNNs: heads, swish everywhere, training, saving, optimiser and augmentation."""
import copy

import numpy as np
import pytest
import keras
from keras import layers

from galaxy_xai.config import data as data_config, train as train_config
from galaxy_xai.errors import ParamError
from galaxy_xai.models import morphology
from galaxy_xai.models.morphology import (augmentation, build_model, build_regressor, compile_model,
                                          configured_augmentation, learning_rate)
from galaxy_xai.models.training import Throughput, image_batches, set_seeds

N_OUT = 37
# The smallest inputs each backbone accepts, to keep the tests fast.
SHAPES = {"vgg16": (32, 32, 3), "resnet50v2": (32, 32, 3), "xception": (72, 72, 3)}


def all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def relu_layers(model):
    return [l.name for l in all_layers(model)
            if isinstance(l, layers.ReLU) or getattr(l, "activation", None) is keras.activations.relu]


def swish_layers(model):
    return [l.name for l in all_layers(model)
            if getattr(l, "activation", None) is keras.activations.swish]


def images(shape, n=4, seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {name: build_model(name, shape, N_OUT) for name, shape in SHAPES.items()}


@pytest.mark.parametrize("name", list(SHAPES))
def test_output_is_n_sigmoid_vote_fractions(models, name):
    model = models[name]
    y = model.predict(images(SHAPES[name], n=2), verbose=0)
    assert y.shape == (2, N_OUT)
    assert np.all((y > 0) & (y < 1))
    last = model.layers[-1]
    assert isinstance(last, layers.Dense) and last.activation is keras.activations.sigmoid


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_relu_became_swish(models, name):
    original = morphology.APPLICATIONS[name](include_top=False, weights=None, input_shape=SHAPES[name])
    n_relu = len(relu_layers(original))
    assert n_relu > 0
    assert relu_layers(models[name]) == []
    # Replaced, not dropped: one swish per former ReLU (+ VGG16's two swish head layers).
    n_head = 2 if name == "vgg16" else 0
    assert len(swish_layers(models[name])) == n_relu + n_head


def test_heads_follow_the_spec(models):
    vgg = models["vgg16"]
    assert vgg.get_layer("fc1").units == 16 * N_OUT
    assert vgg.get_layer("fc2").units == 8 * N_OUT
    assert isinstance(vgg.get_layer("flatten"), layers.Flatten)
    for name in ("resnet50v2", "xception"):
        assert isinstance(models[name].layers[-2], layers.GlobalAveragePooling2D)


def test_relu_layers_are_replaced_too():
    # keras.applications' three backbones use activation="relu"; ReLU layers must go as well.
    inputs = keras.Input((4,))
    x = layers.Dense(3, activation="relu")(inputs)
    outputs = layers.ReLU(name="bare_relu")(x)
    toy = keras.Model(inputs, outputs)
    clone = keras.models.clone_model(toy, clone_function=morphology._swish_instead_of_relu)
    assert relu_layers(toy) and not relu_layers(clone)
    assert clone.get_layer("bare_relu").activation is keras.activations.swish


def test_pretrained_weights_survive_the_swish_rebuild(tmp_path):
    # A weights file stands in for "imagenet" (no network here).
    keras.utils.set_random_seed(1)
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    model = build_model("vgg16", (32, 32, 3), N_OUT, weights=str(path))
    conv = [l for l in reference.layers if l.get_weights()]
    assert len(conv) == 13
    for layer in conv:
        for w_ref, w_new in zip(layer.get_weights(), model.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(w_ref, w_new)


def test_one_training_step_lowers_the_loss():
    # VGG16 has no batch norm or dropout, so the loss is the same in and out of training.
    keras.utils.set_random_seed(2)
    model = compile_model(build_model("vgg16", (32, 32, 3), N_OUT), lr=1e-5, decay=1e-3)
    x = images((32, 32, 3), n=8)
    y = np.random.default_rng(3).random((8, N_OUT), dtype=np.float32)
    before = model.evaluate(x, y, verbose=0)[0]
    model.train_on_batch(x, y)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < before


# VGG16 covers Conv2D(activation=...), ResNet50V2 the Activation layers Xception also uses.
@pytest.mark.parametrize("name", ["vgg16", "resnet50v2"])
def test_keras_file_round_trip_keeps_swish(models, name, tmp_path):
    model = models[name]
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert relu_layers(loaded) == []
    assert swish_layers(loaded) == swish_layers(model)
    x = images(SHAPES[name], n=2)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def tiny_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, layers.Dense(2, activation="sigmoid")(inputs))


def test_decay_is_keras2_inverse_time():
    model = compile_model(tiny_model(), lr=0.01, decay=0.5, jit_compile=False)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    for _ in range(4):
        model.train_on_batch(x, y)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01 / (1 + 0.5 * 4))
    assert model.loss == "mse"
    assert [m.name for m in model.metrics[-1].metrics] == ["rmse"]


def test_no_decay_keeps_a_settable_learning_rate():
    # ReduceLROnPlateau assigns a float; that only works without a schedule.
    model = compile_model(tiny_model(), lr=0.01, decay=0.0, jit_compile=True)
    model.optimizer.learning_rate = 0.005
    assert float(model.optimizer.learning_rate) == pytest.approx(0.005)
    assert model.jit_compile is True


def test_cosine_schedule_falls_from_lr_to_zero_over_the_run():
    model = compile_model(tiny_model(), lr=0.01, schedule="cosine", total_steps=8)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    seen = [float(model.optimizer._get_current_learning_rate())]
    for _ in range(8):
        model.train_on_batch(x, y)
        seen.append(float(model.optimizer._get_current_learning_rate()))
    assert seen[0] == pytest.approx(0.01)
    assert seen[4] == pytest.approx(0.005, rel=1e-5)  # half-way down the cosine
    assert seen[-1] == pytest.approx(0.0, abs=1e-9)
    assert all(a > b for a, b in zip(seen, seen[1:]))


def test_schedule_settings_are_checked():
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate(0.01, schedule="step")
    with pytest.raises(ValueError, match="needs total_steps and decay 0"):
        learning_rate(0.01, decay=0.1, schedule="cosine", total_steps=10)


def test_epochs_are_read_per_backbone(repo_params):
    # VGG16 (no batch norm, random weights) needs more epochs than the others; the others keep theirs.
    params = copy.deepcopy(repo_params)
    params["train"]["epochs"] = {"vgg16": 7, "resnet50v2": 3, "xception": 2}
    assert train_config.load(params).epochs == {"vgg16": 7, "resnet50v2": 3, "xception": 2}
    params["train"]["epochs"] = 6  # the old single count names the keys it now needs
    with pytest.raises(ParamError, match="'train.epochs' must be a mapping with exactly the keys"):
        train_config.load(params)


def test_the_control_regressor_predicts_one_unbounded_length():
    keras.utils.set_random_seed(0)
    model = build_regressor((72, 72, 3), bn_momentum=0.9)
    assert model.output.shape[-1] == 1 and model.layers[-1].activation is keras.activations.linear
    assert relu_layers(model) == []
    assert all(l.momentum == 0.9 for l in model.layers if isinstance(l, layers.BatchNormalization))


def test_configured_augmentation_follows_the_data_params(repo_params):
    aug = data_config.load(repo_params).augmentation
    pipeline = configured_augmentation(aug, seed=3)
    assert [l.name for l in pipeline.layers] == ["rotation", "flip", "shift", "brightness"]
    x = images((16, 16, 3), n=2)
    np.testing.assert_array_equal(pipeline(x, training=True), augmentation(
        rotation_range=aug.rotation_range, width_shift_range=aug.width_shift_range,
        height_shift_range=aug.height_shift_range, horizontal_flip=True, vertical_flip=True,
        brightness_delta=aug.brightness_range, fill_mode=aug.fill_mode, seed=3)(x, training=True))


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("resnet18", (32, 32, 3), N_OUT)


def test_augmentation_changes_training_images_only():
    aug = augmentation(rotation_range=90, width_shift_range=0.1, height_shift_range=0.1,
                       horizontal_flip=True, vertical_flip=True, brightness_delta=0.2, seed=4)
    assert [l.name for l in aug.layers] == ["rotation", "flip", "shift", "brightness"]
    assert aug.get_layer("rotation").fill_mode == "reflect"
    x = images((16, 16, 3), n=4)
    np.testing.assert_array_equal(aug(x, training=False), x)
    y = np.asarray(aug(x, training=True))
    assert y.shape == x.shape and not np.allclose(y, x)
    assert y.min() >= 0 and y.max() <= 1


def test_augmentation_is_seeded():
    x = images((16, 16, 3), n=4)
    make = lambda: augmentation(rotation_range=45, horizontal_flip=True, seed=5)
    np.testing.assert_array_equal(make()(x, training=True), make()(x, training=True))


def test_no_augmentation_is_the_identity():
    x = images((16, 16, 3), n=2)
    np.testing.assert_array_equal(augmentation()(x, training=True), x)


def test_output_bias_starts_at_the_training_mean():
    import numpy as np

    from galaxy_xai.models.morphology import build_model

    mean = np.linspace(0.02, 0.9, 5)
    model = build_model("resnet50v2", (72, 72, 3), 5, output_mean=mean)
    # Zero the last kernel: the output is then the sigmoid of the bias alone.
    kernel, bias = model.get_layer("predictions").get_weights()
    model.get_layer("predictions").set_weights([np.zeros_like(kernel), bias])
    np.testing.assert_allclose(model.predict(np.zeros((1, 72, 72, 3)), verbose=0)[0], mean, rtol=1e-4)


def test_random_vgg16_passes_signal_to_its_head():
    """13 plain swish convolutions with Glorot kernels shrink the signal ~1e6-fold (measured:
    output std 1.5e-6), so training sat at the mean; the swish initialiser keeps it near 1."""
    keras.utils.set_random_seed(0)
    backbone = morphology.swish_backbone("vgg16", (32, 32, 3))
    x = np.random.default_rng(0).uniform(size=(8, 32, 32, 3)).astype("float32")
    assert float(np.std(backbone(x))) > 0.1


def test_batch_norm_momentum_is_set_where_asked():
    default = morphology.swish_backbone("resnet50v2", (32, 32, 3))
    fast = morphology.swish_backbone("resnet50v2", (32, 32, 3), bn_momentum=0.9)
    norms = [l for l in fast.layers if isinstance(l, layers.BatchNormalization)]
    assert norms and all(l.momentum == 0.9 for l in norms)
    assert all(l.momentum == 0.99 for l in default.layers if isinstance(l, layers.BatchNormalization))


def _train_once(images, targets):
    """A few augmented training steps of a tiny CNN through the project's input pipeline."""
    set_seeds(7)
    aug = augmentation(rotation_range=90, horizontal_flip=True, width_shift_range=0.1, brightness_delta=0.1, seed=7)
    ds = image_batches(images, np.arange(len(images)), targets, 8, shuffle=True, seed=7, augment=aug)
    model = keras.Sequential([keras.Input((16, 16, 3)), layers.Conv2D(4, 3, activation="swish"),
                              layers.GlobalAveragePooling2D(), layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(ds, epochs=2, verbose=0)
    return model.get_weights()


def test_training_with_augmentation_is_reproducible():
    # Without enable_op_determinism the reruns must still agree bit for bit (set_seeds relies on it).
    rng = np.random.default_rng(0)
    images = (rng.random((48, 16, 16, 3)) * 255).astype(np.uint8)
    targets = rng.random((48, 2)).astype(np.float32)
    first, second = _train_once(images, targets), _train_once(images, targets)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.allclose(first[-1], 0)  # it trained


def test_throughput_counts_steps_and_times_each_epoch():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((24, 3), np.float32), np.zeros((24, 1), np.float32)
    speed = Throughput(batch_size=4)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[speed])
    assert speed.steps == [6, 6, 6] and len(speed.seconds) == 3 and min(speed.seconds) > 0
    one = Throughput(batch_size=4)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[one])
    assert one.images_per_second == pytest.approx(4 / one.seconds_per_step)  # a single epoch is kept


def test_seeded_models_are_the_same_in_every_process():
    """Same seed, separate processes (as two runs of a stage): identical initial weights. A
    module-level initialiser drew its seed at import and gave VGG16's head other weights each run."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import hashlib; from galaxy_xai.models.morphology import build_model; "
        "from galaxy_xai.models.training import set_seeds; set_seeds(0); "
        "m = build_model('vgg16', (32, 32, 3), 4); "
        "print(hashlib.md5(b''.join(w.tobytes() for w in m.get_weights())).hexdigest())"
    )
    root = Path(__file__).resolve().parents[1]
    digests = {subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1] for _ in range(2)}
    assert len(digests) == 1, digests
