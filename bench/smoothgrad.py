"""Benchmark: batched SmoothGrad vs tf-keras-vis `Saliency` called one image at a time.

Run: .venv/bin/python bench/smoothgrad.py [n_images]
Checks the maps agree (same noise draws), prints maps/s of both and the ratio (target >= 3x).
Our timing includes cloning the model and tracing the tf.function.
"""
from __future__ import annotations

import sys
import time
import warnings

import keras
import numpy as np
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from galaxy_xai.xai.smoothgrad import smoothgrad


def small_cnn(size, units, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = inputs
    for filters in (16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(units, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def tf_keras_vis_one_by_one(model, images, output_index, samples, noise, seed):
    """tf-keras-vis Saliency called one image at a time, as the original study ran it."""
    saliency = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 warns about the list input tf-keras-vis passes
        return np.concatenate([
            saliency(CategoricalScore(output_index), image[None], smooth_samples=samples,
                     smooth_noise=noise)
            for image in images])


def main(n_images=24, size=72, samples=20, noise=0.2, batch_size=128, output_index=6, seed=0):
    model = small_cnn(size, units=37)
    images = np.random.default_rng(seed).random((n_images, size, size, 3), dtype=np.float32)

    start = time.perf_counter()
    reference = tf_keras_vis_one_by_one(model, images, output_index, samples, noise, seed)
    reference_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = smoothgrad(model, images, output_index, samples, noise, batch_size,
                      seed=np.random.RandomState(seed))
    ours_s = time.perf_counter() - start

    difference = np.abs(ours - reference).max()
    assert difference < 1e-5, difference
    print(f"{n_images} images {size}x{size}x3, {samples} samples, batch_size {batch_size}: "
          f"max |difference| {difference:.1e}")
    print(f"smoothgrad          {ours_s:7.2f} s  {n_images / ours_s:7.2f} maps/s")
    print(f"tf-keras-vis 1-by-1 {reference_s:7.2f} s  {n_images / reference_s:7.2f} maps/s")
    print(f"speed ratio {reference_s / ours_s:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
