"""Contextual decomposition (galaxy_xai.xai.cd): completeness, rel = 0 for relevant = 0, and the
linear case, on small models of every layer kind and on the project's four TRIM models."""
import keras
import numpy as np
import pytest
from keras import layers

from galaxy_xai.errors import InputError
from galaxy_xai.models.morphology import build_model
from galaxy_xai.models.sfnet import TopK, build_sfnet
from galaxy_xai.xai import cd


def logit(model, x):
    """The output layer's pre-activation, computed independently of cd (last layer's input → affine)."""
    last = model.layers[-1]
    inner = keras.Model(model.inputs, last.input)
    return np.asarray(inner(x, training=False)) @ np.asarray(last.kernel) + np.asarray(last.bias)


def randomise_bn(model, seed=0):
    """Non-trivial batch-norm statistics, so the inference rule is exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape).astype("float32"))
            if layer.center:
                layer.beta.assign(rng.normal(0, 0.1, layer.beta.shape).astype("float32"))


def check_complete(model, shape, rtol=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (3, *shape)).astype("float32")
    relevant = rng.uniform(0, 1, x.shape).astype("float32") * x
    rel, irrel = cd.decompose(model, relevant, x - relevant)
    expected = logit(model, x)
    scale = np.abs(expected).max() + 1e-6
    np.testing.assert_allclose(rel + irrel, expected, rtol=rtol, atol=rtol * scale)
    zero_rel, _ = cd.decompose(model, np.zeros_like(x), x)
    np.testing.assert_allclose(zero_rel, 0.0, atol=1e-6 * scale)
    assert np.abs(rel).max() > 0
    return rel, irrel


def small(kind):
    inputs = keras.Input((8, 8, 2))
    if kind == "conv":
        x = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
    elif kind == "separable":
        x = layers.Rescaling(2.0, offset=-0.5)(inputs)
        x = layers.ZeroPadding2D(1)(x)
        x = layers.SeparableConv2D(4, 3, activation="swish")(x)
        x = layers.DepthwiseConv2D(3, padding="same")(x)
        x = layers.Activation("sigmoid")(x)
        x = layers.Cropping2D(1)(x)
        x = layers.AveragePooling2D(2, padding="same")(x)
        x = layers.Reshape((-1,))(x)
    elif kind == "residual":
        a = layers.Conv2D(4, 3, padding="same")(inputs)
        b = layers.Conv2D(4, 1, strides=1)(inputs)
        x = layers.ReLU()(layers.Add()([a, b]))
        x = layers.Concatenate()([x, layers.MaxPooling2D(3, strides=1, padding="same")(x)])
        x = layers.Dropout(0.5)(x)
        x = layers.GlobalAveragePooling2D()(x)
        x = TopK(3)(x)
    else:  # nested model
        inner = keras.Model(inputs, layers.Conv2D(3, 3, activation="relu")(inputs), name="inner")
        outer_in = keras.Input((8, 8, 2))
        x = layers.GlobalAveragePooling2D()(inner(outer_in))
        inputs = outer_in
    out = layers.Dense(2, activation="sigmoid", bias_initializer="ones")(x)
    model = keras.Model(inputs, out)
    randomise_bn(model)
    return model


@pytest.mark.parametrize("kind", ["conv", "separable", "residual", "nested"])
def test_small_models_complete(kind):
    keras.utils.set_random_seed(1)
    check_complete(small(kind), (8, 8, 2))


def test_sequential_and_linear_output():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5,)), layers.Dense(4, activation="swish"), layers.Dense(1)])
    check_complete(model, (5,))


def test_zero_bias_linear_model_gives_model_of_relevant():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 3, use_bias=False), layers.Flatten(),
                              layers.Dense(3, use_bias=False), layers.Dense(1, use_bias=False)])
    rng = np.random.default_rng(0)
    relevant, irrelevant = rng.normal(size=(2, 4, 6, 6, 1)).astype("float32")
    rel, irrel = cd.decompose(model, relevant, irrelevant)
    np.testing.assert_allclose(rel, np.asarray(model(relevant)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(irrel, np.asarray(model(irrelevant)), rtol=1e-4, atol=1e-5)


def test_unknown_layer_is_named():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(1)(layers.LayerNormalization(name="ln")(inputs)))
    with pytest.raises(InputError, match="'ln' of class LayerNormalization"):
        cd.decompose(model, np.zeros((1, 4), "float32"), np.ones((1, 4), "float32"))


@pytest.mark.parametrize("name,size", [("vgg16", 32), ("resnet50v2", 32), ("xception", 71)])
def test_backbones_complete(name, size):
    keras.utils.set_random_seed(4)
    model = build_model(name, (size, size, 3), 2, output_mean=[0.3, 0.6])
    randomise_bn(model)
    check_complete(model, (size, size, 3), rtol=2e-4)


def test_sfnet_complete():
    keras.utils.set_random_seed(5)
    model = build_sfnet(8, 1, (32, 32, 3), widths=(8, 8, 16, 16))
    randomise_bn(model)
    check_complete(model, (32, 32, 3))
