"""Benchmark: TRIM with contextual decomposition vs integrated gradients and knock-out, per image.

Run: .venv/bin/python bench/cd.py [model ...] [--images N]
Randomly initialised models at the default run's input sizes (morphology backbones 72 px, the SFNet
48 px); 8 bands, 8 IG steps (the params' defaults), batch 64. Prints seconds per image of each
method, CD's ratio to IG and to knock-out, and CD's completeness gap (max |rel + irrel − z| / mean |z|).
"""
from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from galaxy_xai.models.morphology import build_model
from galaxy_xai.models.sfnet import build_sfnet
from galaxy_xai.xai import cd, trim

MODELS = {"vgg16": 72, "resnet50v2": 72, "xception": 72, "sfnet": 48}


def build(name, size):
    if name == "sfnet":
        return build_sfnet(8, 1, (size, size, 3)), 0
    return build_model(name, (size, size, 3), 37, bn_momentum=0.9), 20  # Class3.1


def timed(f, *args):
    start = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - start


def main(names, n_images=16, n_bands=8, steps=8, batch_size=64):
    for name in names:
        keras.utils.set_random_seed(0)
        size = MODELS[name]
        model, output = build(name, size)
        images = np.random.default_rng(0).random((n_images, size, size, 3), dtype=np.float32)
        masks = trim.radial_band_masks(size, size, n_bands)
        f = trim.ModelOutput(model, output)
        seconds = {}
        for method in ("cd", "integrated_gradients_zero", "knockout"):
            trim.band_importance(f, images[:1], output, masks, method, steps, batch_size)  # trace
            _, s = timed(trim.band_importance, f, images, output, masks, method, steps, batch_size)
            seconds[method] = s / n_images
        parts = trim.band_components(images, masks)
        rel, irrel = trim.cd_bands(f, images, parts, batch_size)
        z = cd.logit(model, images)[:, output]
        gap = np.abs(rel + irrel - z[:, None]).max() / np.abs(z).mean()
        print(f"{name:10s} {size}px  s/image: " + "  ".join(f"{m} {s:.3f}" for m, s in seconds.items())
              + f"  | cd/ig {seconds['cd'] / seconds['integrated_gradients_zero']:.2f}"
              f"  cd/knockout {seconds['cd'] / seconds['knockout']:.2f}  | cd completeness gap {gap:.1e}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args()
    main(args.models, args.images)
