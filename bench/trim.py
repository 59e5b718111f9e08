"""Benchmark: TRIM band scores with graph-mode model calls vs eager calls, one batch at a time.

Run: .venv/bin/python bench/trim.py [backbone] [n_images]
A randomly initialised morphology backbone at 72 px (the default run's size); the reference
computes the same knock-out and zero-baseline IG scores with eager `model(x)` calls under a
GradientTape, which is how TRIM ran before. Checks both agree, prints images/s and the ratio.
"""
from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf

from galaxy_xai.models.morphology import build_model
from galaxy_xai.xai import trim

OUTPUT = 20  # Class3.1, the bar answer


def eager_scores(model, images, masks, steps, batch_size):
    """Knock-out and zero-baseline IG with eager calls (the straightforward implementation)."""
    def outputs(x):
        return tf.concat([model(x[i:i + batch_size], training=False)[:, OUTPUT]
                          for i in range(0, len(x), batch_size)], 0)

    def gradients(x):
        parts = []
        for i in range(0, len(x), batch_size):
            p = x[i:i + batch_size]
            with tf.GradientTape() as tape:
                tape.watch(p)
                y = model(p, training=False)[:, OUTPUT]
            parts.append(tape.gradient(y, p))
        return tf.concat(parts, 0)

    x = tf.convert_to_tensor(images)
    bands = trim.band_components(x, masks)  # [N, B, H, W, C]
    n, b = bands.shape[:2]
    removed = tf.reshape(x[:, None] - bands, [-1, *x.shape[1:]])
    knockout = outputs(x).numpy()[:, None] - outputs(removed).numpy().reshape(n, b)
    alpha = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    grads = tf.add_n([gradients(a * x) for a in alpha]) / steps
    ig_zero = tf.einsum("nhwc,nbhwc->nb", grads, bands).numpy()
    return knockout, ig_zero


def main(backbone="resnet50v2", n_images=32, size=72, n_bands=8, steps=8, batch_size=64):
    keras.utils.set_random_seed(0)
    model = build_model(backbone, (size, size, 3), 37, bn_momentum=0.9)
    images = np.random.default_rng(0).random((n_images, size, size, 3), dtype=np.float32)
    masks = trim.radial_band_masks(size, size, n_bands)
    eager_scores(model, images[:2], masks, 1, batch_size)  # warm-up: both sides start traced
    trim.band_importance(model, images[:2], OUTPUT, masks, "knockout", steps, batch_size)

    start = time.perf_counter()
    ref_knockout, ref_ig = eager_scores(model, images, masks, steps, batch_size)
    eager_s = time.perf_counter() - start
    start = time.perf_counter()  # includes tracing: band_importance builds its functions per call
    knockout = trim.band_importance(model, images, OUTPUT, masks, "knockout", steps, batch_size)
    ig = trim.band_importance(model, images, OUTPUT, masks, "integrated_gradients_zero", steps, batch_size)
    graph_s = time.perf_counter() - start

    # Graph mode fuses ops (convolution + batch norm + activation) in another order than eager
    # calls, so float32 round-off differs. A knock-out score is a difference of two outputs, so
    # its round-off is that of the outputs: scale it by max |f(x)|; IG by its own largest score.
    # oneDNN's fused kernels (on for every stage) round differently from the eager ones: 1.3e-4
    # measured for VGG16 on 4 images, 1e-6 with oneDNN off; a bug would be of order 1.
    f_max = np.abs(trim.predict_output(model, images, OUTPUT)).max()
    difference = {"knockout": float(np.abs(knockout - ref_knockout).max() / f_max),
                  "ig_zero": float(np.abs(ig - ref_ig).max() / np.abs(ref_ig).max())}
    assert max(difference.values()) < 1e-3, difference
    print(f"{backbone}, {n_images} images {size}x{size}x3, {n_bands} bands, {steps} IG steps: "
          f"max difference (knockout / max |f|, IG / max |IG|): " + ", ".join(f"{k} {v:.1e}" for k, v in difference.items()))
    print(f"graph (band_importance) {graph_s:7.2f} s  {n_images / graph_s:6.2f} images/s")
    print(f"eager reference         {eager_s:7.2f} s  {n_images / eager_s:6.2f} images/s")
    print(f"speed ratio {eager_s / graph_s:.1f}x")


if __name__ == "__main__":
    main(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
