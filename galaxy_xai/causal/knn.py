"""Exact k nearest training galaxies in latent space (SPEC §6, KNN)."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits  # installed with scikit-learn

# Query rows per block: a block costs ~chunk_size × n_train × 16 bytes (float64 distances +
# int64 partition order), 256 × 20 000 → ~80 MB; larger blocks are no faster here.
DEFAULT_CHUNK_SIZE = 256


def nearest_training_neighbours(latent, train_ids, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE,
                                progress: bool = False, workers: int = 0) -> np.ndarray:
    """Catalogue row ids of the k nearest training galaxies of every galaxy, nearest first.

    latent: [n, d] main latents, row i = catalogue row i. train_ids: catalogue rows of the
    training galaxies (the candidates). Returns int32 [n, k] with values taken from train_ids.

    Distance is Euclidean. Ties are broken stably: the candidate listed earlier in train_ids
    comes first. As in the study, a training galaxy is NOT excluded from its own neighbours:
    it is always its own first neighbour (even against an exact twin).
    Work is done in blocks of `chunk_size` query rows, `workers` blocks at a time (threads; 0 =
    every core): NumPy's product, partition and sort release the GIL, so blocks run in parallel
    and memory stays ~workers × chunk_size × n_train.
    """
    latent = np.asarray(latent, dtype=np.float64)
    train_ids = np.asarray(train_ids)
    _check_inputs(latent, train_ids, k, chunk_size)
    train = latent[train_ids]
    train_augmented = np.hstack([train, np.einsum("ij,ij->i", train, train)[:, None]])
    # position of each catalogue row among the candidates, -1 for non-training rows
    position_in_train = np.full(len(latent), -1, dtype=np.int64)
    position_in_train[train_ids] = np.arange(len(train_ids))

    neighbours = np.empty((len(latent), k), dtype=np.int32)

    def block(start):
        rows = slice(start, start + chunk_size)
        dist = _ranking_distances(latent[rows], train_augmented)
        _pin_self_first(dist, position_in_train[rows])
        neighbours[rows] = train_ids[_k_smallest_sorted(dist, k)]

    # The product has an inner dimension of only d + 1, so it is memory-bound: BLAS threads gain
    # little and would compete with the block threads; one BLAS thread per block.
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        for _ in _blocks(pool.map(block, range(0, len(latent), chunk_size)),
                         -(-len(latent) // chunk_size), progress):
            pass
    return neighbours


def _check_inputs(latent, train_ids, k, chunk_size) -> None:
    if latent.ndim != 2:
        raise ValueError(f"latent must be [n, d], got shape {latent.shape}")
    if not np.isfinite(latent).all():
        raise ValueError("latent has non-finite values; distances would be meaningless")
    if train_ids.ndim != 1 or not np.issubdtype(train_ids.dtype, np.integer):
        raise ValueError("train_ids must be a 1-D integer array of catalogue rows")
    if len(train_ids) and (train_ids.min() < 0 or train_ids.max() >= len(latent)):
        raise ValueError("train_ids must index rows of latent")
    if len(np.unique(train_ids)) != len(train_ids):
        raise ValueError("train_ids must not repeat a galaxy")
    if not 1 <= k <= len(train_ids):
        raise ValueError(f"k must be in [1, n_train={len(train_ids)}], got {k}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")


def _blocks(done, total: int, progress: bool):
    """The finished blocks, with a progress bar if asked."""
    if progress:
        from tqdm import tqdm
        return tqdm(done, total=total, desc="knn", unit="block")
    return done


def _ranking_distances(query, train_augmented) -> np.ndarray:
    """|t|² - 2 q·t as one product [-2q, 1] · [t, |t|²]ᵀ. This is the squared distance minus
    |q|², a constant along the row that cannot change the ranking; leaving it out saves passes
    over the block and a cancellation."""
    query_augmented = np.hstack([-2.0 * query, np.ones((len(query), 1))])
    return query_augmented @ train_augmented.T


def _pin_self_first(dist, position_in_train) -> None:
    """A training galaxy's own distance is the row minimum only up to rounding of the expanded
    form; make it strictly smallest so 'self is the first neighbour' holds exactly."""
    rows = np.flatnonzero(position_in_train >= 0)
    dist[rows, position_in_train[rows]] = -np.inf


def _k_smallest_sorted(dist, k: int) -> np.ndarray:
    """Column indices of the k smallest entries per row, ascending, ties → lower index first."""
    if k == dist.shape[1]:
        return np.argsort(dist, axis=1, kind="stable")
    # partition at k (not k-1) so we also learn the (k+1)-th value and can spot boundary ties
    order = np.argpartition(dist, k, axis=1)
    chosen = order[:, :k]
    chosen_dist = _take_rows(dist, chosen)
    # Without ties the k-nearest order is unique, so a fast unstable sort is exact; rows with
    # any tie (rare for real latents) are redone below with a full stable sort.
    by_dist = np.argsort(chosen_dist, axis=1)
    nearest = _take_rows(chosen, by_dist)
    sorted_dist = _take_rows(chosen_dist, by_dist)
    next_dist = _take_rows(dist, order[:, k:k + 1])[:, 0]
    tied = np.flatnonzero((np.diff(sorted_dist, axis=1) == 0).any(axis=1)
                          | (sorted_dist[:, -1] == next_dist))
    if len(tied):
        nearest[tied] = np.argsort(dist[tied], axis=1, kind="stable")[:, :k]
    return nearest


def _take_rows(values, columns) -> np.ndarray:
    """values[i, columns[i, j]] for every row i; a flat take, cheaper than take_along_axis."""
    return np.take(values, columns + values.shape[1] * np.arange(len(values))[:, None])
