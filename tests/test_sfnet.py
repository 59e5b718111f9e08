"""SFNet: the TopK layer, the ResNet18 backbone, the two regressors, loss and optimiser."""
import numpy as np
import pytest
import tensorflow as tf
import keras
from keras import layers

from galaxy_xai.models.sfnet import (
    TopK, build_dense_twin, build_resnet18, build_sfnet, compile_sfnet, rmse_loss,
)

SHAPE = (32, 32, 3)


def features_of(model, x):
    return np.asarray(keras.Model(model.input, model.get_layer("features").output)(x))


def test_topk_keeps_exactly_the_k_largest():
    x = np.random.default_rng(0).normal(size=(6, 512)).astype("float32")
    y = np.asarray(TopK(4)(x))
    assert np.all((y != 0).sum(axis=1) == 4)
    largest = np.argsort(x, axis=1)[:, -4:]
    for row in range(len(x)):
        kept = np.flatnonzero(y[row])
        assert set(kept) == set(largest[row])
        np.testing.assert_array_equal(y[row, kept], x[row, kept])


def test_topk_keeps_exactly_k_when_values_tie():
    y = np.asarray(TopK(3)(np.ones((2, 10), "float32")))
    assert np.all((y != 0).sum(axis=1) == 3)


def test_topk_gradient_flows_only_through_kept_entries():
    rng = np.random.default_rng(1)
    x = tf.Variable(rng.normal(size=(3, 20)).astype("float32"))
    weights = rng.normal(size=(3, 20)).astype("float32")
    with tf.GradientTape() as tape:
        y = TopK(5)(x)
        loss = tf.reduce_sum(y * weights)
    grad = tape.gradient(loss, x).numpy()
    kept = y.numpy() != 0
    np.testing.assert_array_equal(grad[~kept], 0.0)
    np.testing.assert_allclose(grad[kept], weights[kept])


@pytest.mark.parametrize("k", [None, 8, 100])
def test_topk_is_identity_without_a_binding_k(k):
    x = np.random.default_rng(2).normal(size=(2, 8)).astype("float32")
    np.testing.assert_array_equal(TopK(k)(x), x)


def test_topk_refuses_k_below_one():
    with pytest.raises(ValueError):
        TopK(0)


def test_resnet18_matches_torchvision_parameter_count():
    backbone = build_resnet18((64, 64, 3))
    trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    assert trainable == 11_176_512  # torchvision resnet18 without fc
    assert backbone.count_params() == pytest.approx(11.18e6, rel=1e-3)
    assert backbone.output.shape[1:] == (2, 2, 512)


def test_sfnet_outputs_and_sparse_features():
    keras.utils.set_random_seed(3)
    model = build_sfnet(k=4, n_outputs=4, input_shape=SHAPE)
    x = np.random.default_rng(4).random((3, *SHAPE), dtype=np.float32)
    assert model(x).shape == (3, 4)
    feats = features_of(model, x)
    assert feats.shape == (3, 512)
    assert np.all((feats != 0).sum(axis=1) == 4) and feats.min() >= 0
    head = model.get_layer("head")
    assert head.activation is keras.activations.linear and head.input.shape[-1] == 512


def test_dense_twin_has_no_topk():
    model = build_dense_twin(n_outputs=1, input_shape=SHAPE)
    assert not any(isinstance(l, TopK) for l in model.layers)
    assert isinstance(model.get_layer("features"), layers.ReLU)
    x = np.random.default_rng(5).random((2, *SHAPE), dtype=np.float32)
    assert (features_of(model, x) != 0).sum(axis=1).min() > 4
    assert model(x).shape == (2, 1)


def test_rmse_loss_is_the_batch_rmse():
    y_true = np.array([[1.0], [2.0], [4.0]], "float32")
    y_pred = np.array([[1.0], [3.0], [1.0]], "float32")
    assert float(rmse_loss(y_true, y_pred)) == pytest.approx(np.sqrt((0 + 1 + 9) / 3))


@pytest.fixture(scope="module")
def trained():
    """A compiled SFNet after one step on a fixed batch (tracing the step is the slow part)."""
    keras.utils.set_random_seed(6)
    model = compile_sfnet(build_sfnet(k=3, n_outputs=1, input_shape=SHAPE),
                          lr=1e-4, decay_steps=10)
    x = np.random.default_rng(7).random((8, *SHAPE), dtype=np.float32)
    y = np.random.default_rng(8).normal(8.9, 0.2, size=(8, 1)).astype("float32")
    # Losses in training mode: batch statistics, not the barely-updated moving averages.
    before = float(rmse_loss(y, model(x, training=True)))
    model.train_on_batch(x, y)
    after = float(rmse_loss(y, model(x, training=True)))
    return model, x, y, before, after


def test_one_training_step_lowers_the_loss(trained):
    _, _, _, before, after = trained
    assert after < before


def test_learning_rate_follows_the_cosine():
    inputs = keras.Input((3,))
    tiny = keras.Model(inputs, layers.Dense(1)(inputs))
    compile_sfnet(tiny, lr=0.01, decay_steps=4, final_lr_fraction=0.1)
    assert float(tiny.optimizer.learning_rate) == pytest.approx(0.01)
    for _ in range(2):
        tiny.train_on_batch(np.ones((2, 3), "float32"), np.zeros((2, 1), "float32"))
    # Half way: lr * (alpha + (1 - alpha) * (1 + cos(pi / 2)) / 2)
    assert float(tiny.optimizer.learning_rate) == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))
    assert isinstance(tiny.optimizer, keras.optimizers.AdamW)


def test_compiled_sfnet_survives_keras_round_trip(trained, tmp_path):
    model, x, y, _, _ = trained
    path = tmp_path / "sfnet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    topk = loaded.get_layer("features")
    assert isinstance(topk, TopK) and topk.k == 3
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert int(loaded.optimizer.iterations) == 1
    assert loaded.loss is rmse_loss
