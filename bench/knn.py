"""Benchmark: chunked KNN (argpartition, then sort the k kept) vs a full argsort per block.

    python bench/knn.py [--n 20000] [--n-train 20000] [--k 2000] [--sklearn]

Two references sort every full distance row: np.argsort's default (fastest, ties in any
order) and kind="stable" (the same contract as ours: ties to the earlier training galaxy).
Checks all give the same neighbours in the same order, prints times and ratios, then shows
that peak memory follows chunk_size (tracemalloc, on a smaller problem).
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy.spatial.distance import cdist

from galaxy_xai.causal.knn import nearest_training_neighbours


def full_sort_reference(latent, train_ids, k, chunk_size, kind=None):
    """The obvious method: exact distances per block, np.argsort of every full row."""
    train = latent[train_ids]
    out = np.empty((len(latent), k), dtype=np.int32)
    for start in range(0, len(latent), chunk_size):
        dist_sq = cdist(latent[start:start + chunk_size], train, "sqeuclidean")
        out[start:start + chunk_size] = train_ids[np.argsort(dist_sq, axis=1, kind=kind)[:, :k]]
    return out


def timed(fn, *args, **kwargs):
    """Result, wall seconds and CPU seconds (all threads; steadier on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def compare_speed(args, rng):
    latent = rng.normal(size=(args.n, args.dim))
    train_ids = rng.permutation(args.n)[:args.n_train]
    print(f"{args.n} galaxies × {args.dim} latent dims, {args.n_train} training, k = {args.k}, "
          f"chunk = {args.chunk_size}")
    one, one_wall, one_cpu = timed(nearest_training_neighbours, latent, train_ids, args.k,
                                   chunk_size=args.chunk_size, workers=1)
    print(f"  argpartition KNN, 1 thread     {one_wall:7.2f} s wall {one_cpu:7.2f} s CPU")
    ours, wall, cpu = timed(nearest_training_neighbours, latent, train_ids, args.k,
                            chunk_size=args.chunk_size)
    np.testing.assert_array_equal(ours, one)
    print(f"  argpartition KNN, every core   {wall:7.2f} s wall {cpu:7.2f} s CPU (the default; ratios below)")
    for kind in ("quicksort", "stable"):
        reference, ref_wall, ref_cpu = timed(full_sort_reference, latent, train_ids, args.k,
                                             args.chunk_size, kind)
        np.testing.assert_array_equal(ours, reference)
        print(f"  full argsort {kind:9s}  {ref_wall:7.2f} s wall {ref_cpu:7.2f} s CPU: same "
              f"neighbours, same order; ours {ref_wall / wall:.1f}x faster "
              f"({ref_cpu / cpu:.1f}x in CPU time)")
    if args.sklearn:
        from sklearn.neighbors import NearestNeighbors
        found = NearestNeighbors(n_neighbors=args.k, algorithm="brute").fit(latent[train_ids])
        (_, index), sk_wall, sk_cpu = timed(found.kneighbors, latent)
        agree = np.mean(train_ids[index] == ours)
        print(f"  sklearn brute           {sk_wall:7.2f} s wall {sk_cpu:7.2f} s CPU: "
              f"{agree:.4%} of entries agree")


def compare_memory(rng, n=6000, k=600, chunk_sizes=(64, 256, 1024)):
    latent = rng.normal(size=(n, 16))
    train_ids = np.arange(n)
    output_mb = n * k * 4 / 1e6
    print(f"peak memory, {n} galaxies all training, k = {k} "
          f"(output itself {output_mb:.0f} MB, excluded below)")
    for chunk_size in chunk_sizes:
        tracemalloc.start()
        nearest_training_neighbours(latent, train_ids, k, chunk_size=chunk_size)
        peak = tracemalloc.get_traced_memory()[1] / 1e6 - output_mb
        tracemalloc.stop()
        block_mb = chunk_size * n * 16 / 1e6  # float64 distances + int64 partition order
        print(f"  chunk {chunk_size:5d}: peak {peak:7.1f} MB  (chunk × n_train × 16 B = "
              f"{block_mb:6.1f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--k", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--sklearn", action="store_true", help="also time sklearn (slow)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    compare_speed(args, rng)
    compare_memory(rng)


if __name__ == "__main__":
    main()
