import numpy as np
import pytest

from galaxy_xai.causal.knn import nearest_training_neighbours


def brute_force(latent, train_ids, k):
    """Exact distances (differences, not the expanded form) and a full stable sort per row."""
    diff = latent[:, None, :] - latent[train_ids][None, :, :]
    dist_sq = (diff ** 2).sum(axis=-1)
    return train_ids[np.argsort(dist_sq, axis=1, kind="stable")[:, :k]]


@pytest.fixture
def galaxies():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(300, 5))
    train_ids = rng.permutation(300)[:180]  # unsorted, as a real split may be
    return latent, train_ids


def test_matches_brute_force_full_sort(galaxies):
    latent, train_ids = galaxies
    result = nearest_training_neighbours(latent, train_ids, k=25, chunk_size=64)
    np.testing.assert_array_equal(result, brute_force(latent, train_ids, 25))


def test_training_galaxy_is_its_own_first_neighbour(galaxies):
    latent, train_ids = galaxies
    result = nearest_training_neighbours(latent, train_ids, k=5)
    np.testing.assert_array_equal(result[train_ids, 0], train_ids)
    others = np.setdiff1d(np.arange(len(latent)), train_ids)
    assert np.isin(result[others], train_ids).all()
    assert not (result[others, 0] == others).any()


def test_self_first_even_against_an_exact_twin():
    latent = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    result = nearest_training_neighbours(latent, np.array([0, 1, 2]), k=2)
    np.testing.assert_array_equal(result, [[0, 1], [1, 0], [2, 0]])


def test_int32_and_shape(galaxies):
    latent, train_ids = galaxies
    result = nearest_training_neighbours(latent.astype(np.float32), train_ids, k=7)
    assert result.dtype == np.int32
    assert result.shape == (len(latent), 7)


def test_chunk_size_does_not_change_result(galaxies):
    latent, train_ids = galaxies
    results = [nearest_training_neighbours(latent, train_ids, k=30, chunk_size=size)
               for size in (1, 7, 64, 10_000)]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_ties_go_to_the_earlier_training_galaxy():
    # integer grid: many equal distances, including at the k-th / (k+1)-th boundary
    rng = np.random.default_rng(0)
    latent = rng.integers(0, 3, size=(200, 2)).astype(float)
    train_ids = np.arange(100, 200)[::-1].copy()  # reversed: order in train_ids decides ties
    queries = np.arange(100)  # non-training rows: no self to pin
    result = nearest_training_neighbours(latent, train_ids, k=12, chunk_size=17)[queries]
    np.testing.assert_array_equal(result, brute_force(latent, train_ids, 12)[queries])


def test_k_equal_to_training_size(galaxies):
    latent, train_ids = galaxies
    result = nearest_training_neighbours(latent, train_ids, k=len(train_ids))
    np.testing.assert_array_equal(result, brute_force(latent, train_ids, len(train_ids)))


@pytest.mark.parametrize("k", [0, 181])
def test_rejects_k_out_of_range(galaxies, k):
    latent, train_ids = galaxies
    with pytest.raises(ValueError, match="k must be"):
        nearest_training_neighbours(latent, train_ids, k=k)


def test_rejects_non_finite_latent(galaxies):
    latent, train_ids = galaxies
    latent = latent.copy()
    latent[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        nearest_training_neighbours(latent, train_ids, k=3)


def test_parallel_blocks_give_the_serial_result(galaxies):
    latent, train_ids = galaxies
    serial = nearest_training_neighbours(latent, train_ids, k=20, chunk_size=13, workers=1)
    parallel = nearest_training_neighbours(latent, train_ids, k=20, chunk_size=13, workers=3)
    np.testing.assert_array_equal(serial, parallel)
