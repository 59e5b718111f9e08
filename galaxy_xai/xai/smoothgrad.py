"""SmoothGrad saliency maps (SPEC §3), equal to tf-keras-vis `Saliency` with `ReplaceToLinear`.

Per image x: sigma = noise x (max(x) - min(x)); average |d score / d input| over `samples` copies
x + N(0, sigma^2); take the max over channels; rescale by (m - min) / (max - min + epsilon).
score = the pre-activation of output unit `output_index` (last activation made linear).

Unlike tf-keras-vis, each gradient call carries the noisy copies of several images, and maps are
produced chunk by chunk so that any number of images streams in constant memory.

Noise is drawn image by image, `samples` x H x W x C standard normals each, in image order, so a
map does not depend on how images are chunked, and with seed=np.random.RandomState(s) the maps
equal tf-keras-vis called one image at a time after np.random.seed(s).

A constant gradient map (e.g. zero gradient) normalises to all zeros; callers flag it
(bar_length.measure_bar_lengths reports it as "constant_heatmap").
"""
from __future__ import annotations

import itertools
from typing import Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

# keras.backend.epsilon(), the constant tf-keras-vis adds to (max - min) when normalising
KERAS_EPSILON = 1e-7


def linear_output_model(model: keras.Model) -> keras.Model:
    """A copy of a single-output model whose final activation is linear (the original is kept)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    layer = clone.layers[-1]  # a single output is produced by the last layer in graph order
    while isinstance(layer, keras.Model):
        layer = layer.layers[-1]
    if not hasattr(layer, "activation"):
        raise ValueError(f"output layer {layer.name!r} has no activation to make linear")
    layer.activation = keras.activations.linear
    return clone


def iter_smoothgrad(model, images: Iterable[np.ndarray], output_index: int, samples: int,
                    noise: float, batch_size: int, seed=0,
                    epsilon: float = KERAS_EPSILON) -> Iterator[np.ndarray]:
    """Yield float32 maps [b, H, W] in [0, 1] for successive chunks of `images` ([H, W, C] each).

    A chunk is as many whole images as fit `batch_size` noisy copies (at least one image).
    seed: an int, or a np.random.Generator / RandomState to draw the noise from.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    gradient_map = _gradient_map_fn(linear_output_model(model), output_index, samples)
    rng = seed if isinstance(seed, np.random.RandomState) else np.random.default_rng(seed)
    images_per_call = max(1, batch_size // samples)
    for chunk in _chunks(images, images_per_call):
        noisy = _noisy_copies(chunk, samples, noise, rng)
        yield _normalise(gradient_map(noisy).numpy(), epsilon)


def smoothgrad(model, images, output_index: int, samples: int, noise: float, batch_size: int,
               seed=0, epsilon: float = KERAS_EPSILON) -> np.ndarray:
    """Float32 maps [n, H, W] in [0, 1] for images [n, H, W, C]; see iter_smoothgrad."""
    chunks = iter_smoothgrad(model, images, output_index, samples, noise, batch_size, seed,
                             epsilon)
    return np.concatenate(list(chunks), axis=0)


def _chunks(images, size: int) -> Iterator[np.ndarray]:
    iterator = iter(images)
    while chunk := list(itertools.islice(iterator, size)):
        yield np.stack(chunk).astype(np.float32)


def _noisy_copies(chunk: np.ndarray, samples: int, noise: float, rng) -> np.ndarray:
    """[b * samples, H, W, C] copies, image-major; noise scaled by each image's value range."""
    axes = tuple(range(1, chunk.ndim))
    value_range = chunk.max(axis=axes, keepdims=True) - chunk.min(axis=axes, keepdims=True)
    sigma = np.float32(noise) * value_range  # float32 like tf-keras-vis; the draw is float64
    draws = rng.standard_normal((len(chunk), samples) + chunk.shape[1:])
    noisy = chunk[:, None] + (sigma[:, None] * draws).astype(np.float32)
    return noisy.reshape((-1,) + chunk.shape[1:])


def _gradient_map_fn(linear_model, output_index: int, samples: int):
    """tf.function: noisy copies [b * samples, H, W, C] -> mean |gradient|, max over channels."""

    @tf.function(reduce_retracing=True)
    def gradient_map(noisy):
        with tf.GradientTape() as tape:
            tape.watch(noisy)
            score = linear_model(noisy, training=False)[:, output_index]
        # images do not interact (training=False), so the gradient of the sum is per image
        gradients = tf.abs(tape.gradient(score, noisy))
        per_image = tf.reshape(gradients, tf.concat([[-1, samples], tf.shape(noisy)[1:]], 0))
        return tf.reduce_max(tf.reduce_mean(per_image, axis=1), axis=-1)

    return gradient_map


def _normalise(maps: np.ndarray, epsilon: float) -> np.ndarray:
    """Each map to [0, 1] by its min and max, as tf-keras-vis `normalize` (epsilon avoids 0/0)."""
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    return ((maps - low) / (high - low + np.float32(epsilon))).astype(np.float32)


# --------------------------------------------------------------------------- sanity check
# Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"):
# re-initialise the weighted layers from the output down and see whether the maps change.

def weighted_layers(model) -> list:
    """The layers that carry weights, nested models flattened, in graph order (input first)."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(weighted_layers(layer))
        elif layer.weights:
            out.append(layer)
    return out


def randomised_copy(model: keras.Model, n_layers: int, seed: int) -> keras.Model:
    """A copy of `model` whose last `n_layers` weighted layers (from the output down) are
    re-initialised: kernels Glorot-uniform (Keras' default), gammas and moving variances 1,
    biases, betas and moving means 0. The original model is kept."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    for layer in weighted_layers(clone)[::-1][:n_layers]:
        layer.set_weights([_initial(w, rng) for w in layer.weights])
    return clone


def _initial(variable, rng) -> np.ndarray:
    shape = tuple(variable.shape)
    name = variable.name.rsplit("/", 1)[-1]
    if len(shape) >= 2:
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    fill = 1.0 if ("gamma" in name or "variance" in name) else 0.0
    return np.full(shape, fill, np.float32)


def rank_similarity(maps_a, maps_b) -> np.ndarray:
    """Spearman rank correlation of each pair of maps [n, H, W] (NaN where a map is constant)."""
    from scipy.stats import rankdata

    a = rankdata(np.asarray(maps_a, np.float64).reshape(len(maps_a), -1), axis=1)
    b = rankdata(np.asarray(maps_b, np.float64).reshape(len(maps_b), -1), axis=1)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def randomisation_test(model, images, output_index: int, fractions, samples: int, noise: float,
                       batch_size: int, seed: int = 0, trained=None) -> dict:
    """SmoothGrad of the trained model and of copies with the top `fraction` of its weighted layers
    re-initialised (cascading from the output), on the same `images` [n, H, W, C] with the same
    noise; per fraction the number of layers and the median (and each galaxy's) Spearman rank
    correlation with the trained model's maps. None where undefined (a constant map).

    `trained`: the trained model's maps of these images if already computed with the same seed (as
    the first maps of a longer run are: noise is drawn image by image), else they are computed."""
    n_weighted = len(weighted_layers(model))
    if trained is None:
        trained = smoothgrad(model, images, output_index, samples, noise, batch_size, seed=seed)
    depths = []
    for fraction in fractions:
        n_layers = max(1, int(np.ceil(fraction * n_weighted)))
        maps = smoothgrad(randomised_copy(model, n_layers, seed), images, output_index, samples, noise,
                          batch_size, seed=seed)
        rho = rank_similarity(trained, maps)
        finite = rho[np.isfinite(rho)]
        depths.append({"fraction": float(fraction), "n_layers": n_layers,
                       "median_spearman": float(np.median(finite)) if finite.size else None,
                       "spearman": [float(r) if np.isfinite(r) else None for r in rho]})
    return {"n_weighted_layers": n_weighted, "n_galaxies": int(len(images)), "depths": depths}
