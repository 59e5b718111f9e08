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


def backbone_costs(n_images=8, size=72, samples=16, noise=0.2, batch_size=128, fractions=(0.05, 0.5, 1.0)):
    """Seconds per SmoothGrad map of each study backbone at the default scale (random weights: the
    cost does not depend on them), and the cost of the randomisation test on `n_images` galaxies.

    Run: .venv/bin/python bench/smoothgrad.py backbones [n_images]
    """
    from galaxy_xai.domain import BACKBONES, VOTE_COLUMNS
    from galaxy_xai.models.morphology import build_model
    from galaxy_xai.xai.smoothgrad import randomisation_test

    images = np.random.default_rng(0).random((n_images, size, size, 3), dtype=np.float32)
    for name in BACKBONES:
        model = build_model(name, (size, size, 3), len(VOTE_COLUMNS))
        smoothgrad(model, images[:1], 6, samples, noise, batch_size)  # trace once
        start = time.perf_counter()
        smoothgrad(model, images, 6, samples, noise, batch_size)
        per_map = (time.perf_counter() - start) / n_images
        start = time.perf_counter()
        result = randomisation_test(model, images, 6, fractions, samples, noise, batch_size)
        test = time.perf_counter() - start
        print(f"{name}: {per_map:.3f} s per map (incl. nothing else); randomisation test on {n_images} galaxies "
              f"x {len(fractions)} depths: {test:.1f} s; median Spearman {[d['median_spearman'] for d in result['depths']]}",
              flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["backbones"]:
        backbone_costs(*(int(a) for a in sys.argv[2:3]))
    else:
        main(*(int(a) for a in sys.argv[1:2]))
