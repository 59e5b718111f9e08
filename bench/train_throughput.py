"""Training throughput (images/s) of each backbone, with and without XLA (SPEC §10).

Random images, a few warm-up steps (tracing, XLA compilation), then timed `train_on_batch`
steps. Prints a table and the faster `jit_compile` setting per backbone, which is what the
params should pick. On a shared 2-core machine the numbers vary with the other load.

    .venv/bin/python bench/train_throughput.py [--size 72] [--batch 32] [--steps 3]
"""
from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from galaxy_xai.domain import VOTE_COLUMNS
from galaxy_xai.models.morphology import build_model, compile_model
from galaxy_xai.models.sfnet import build_sfnet, compile_sfnet

GZ_OUTPUTS = len(VOTE_COLUMNS)
SFNET_OUTPUTS = 4  # the four log line fluxes
SFNET_K = 4  # the paper's default k


def compiled(backbone, input_shape, jit_compile):
    if backbone == "sfnet_resnet18":
        model = build_sfnet(SFNET_K, SFNET_OUTPUTS, input_shape)
        return compile_sfnet(model, lr=1e-3, decay_steps=1000, jit_compile=jit_compile)
    model = build_model(backbone, input_shape, GZ_OUTPUTS)
    return compile_model(model, lr=1e-4, decay=0.0, jit_compile=jit_compile)


def images_per_second(backbone, size, batch, warmup, steps, jit_compile, seed=0):
    keras.backend.clear_session()  # drop the previous model's graphs and memory
    keras.utils.set_random_seed(seed)
    model = compiled(backbone, (size, size, 3), jit_compile)
    rng = np.random.default_rng(seed)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = rng.random((batch, model.output.shape[-1]), dtype=np.float32)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)  # returns numpy losses, so the step has finished
    return batch * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+",
                        default=["vgg16", "resnet50v2", "xception", "sfnet_resnet18"])
    parser.add_argument("--size", type=int, default=72, help="image side in pixels (>= 71)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting")
    args = parser.parse_args()

    print(f"training images/s at {args.size} px, batch {args.batch}, "
          f"{args.steps} timed steps after {args.warmup} warm-up")
    print(f"{'backbone':<16}{'no XLA':>10}{'XLA':>10}  faster")
    for backbone in args.backbones:
        rate = {jit: images_per_second(backbone, args.size, args.batch, args.warmup,
                                       args.steps, jit)
                for jit in (False, True)}
        best = "jit_compile=True" if rate[True] > rate[False] else "jit_compile=False"
        print(f"{backbone:<16}{rate[False]:>10.1f}{rate[True]:>10.1f}  {best}", flush=True)


if __name__ == "__main__":
    main()
