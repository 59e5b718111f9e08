import numpy as np
import pytest

from galaxy_xai.info.binning import bin_edges, to_bin
from galaxy_xai.info.decomposition import (COMPONENTS, decompose, prior_surprise,
                                           summarise_components)

BINS, Y_MIN, Y_MAX = 520, 6.0, 12.5


def test_prior_surprise_by_hand():
    # 2 bins on [0, 1]: [0, 0.5) holds 0.1, 0.2, 0.3 and the clipped -1; [0.5, 1] holds 0.7
    # and the clipped 2.0. The null 9999 is left out.
    y = np.array([0.1, 0.2, 0.3, -1.0, 0.7, 2.0, 9999.0])
    h = prior_surprise(y, bins=2, y_min=0.0, y_max=1.0)
    expected = -np.log([4 / 6] * 4 + [2 / 6] * 2)
    np.testing.assert_allclose(h[:6], expected)
    assert np.isnan(h[6])


def test_prior_surprise_matches_numpy_histogram():
    y = np.random.default_rng(0).normal(9.5, 1.0, size=2000)
    counts, _ = np.histogram(np.clip(y, Y_MIN, Y_MAX), bins=BINS, range=(Y_MIN, Y_MAX))
    index = np.clip(((y - Y_MIN) / (Y_MAX - Y_MIN) * BINS).astype(int), 0, BINS - 1)
    np.testing.assert_allclose(prior_surprise(y, BINS, Y_MIN, Y_MAX),
                               -np.log(counts[index] / len(y)))


@pytest.fixture
def estimates():
    rng = np.random.default_rng(1)
    y = rng.normal(10.0, 0.8, size=500)
    ce1, ce2 = rng.uniform(1.0, 5.0, size=(2, 500))
    ce12 = np.minimum(ce1, ce2) - rng.uniform(0.0, 1.0, size=500)
    return y, ce1, ce2, ce12


def test_identical_inputs_have_no_unique_or_synergistic_part(estimates):
    y, ce1, _, _ = estimates
    parts = decompose(y, ce1, ce1, ce1, BINS, Y_MIN, Y_MAX)
    for name in ("unique1", "unique2", "synergy"):
        np.testing.assert_array_equal(parts[name], 0.0)
    np.testing.assert_allclose(parts["redundant"], parts["mi1"])


def test_components_add_up_to_joint_information(estimates):
    parts = decompose(*estimates, BINS, Y_MIN, Y_MAX)
    total = parts["redundant"] + parts["unique1"] + parts["unique2"] + parts["synergy"]
    np.testing.assert_allclose(total, parts["mi12"], rtol=0, atol=1e-12)
    assert ((parts["unique1"] == 0) | (parts["unique2"] == 0)).all()  # min rule: one is 0
    assert (parts["synergy"] > 0).all()  # ce12 below both: the union adds information


def test_information_is_prior_surprise_minus_cross_entropy(estimates):
    y, ce1, ce2, ce12 = estimates
    parts = decompose(y, ce1, ce2, ce12, BINS, Y_MIN, Y_MAX)
    np.testing.assert_allclose(parts["mi2"], prior_surprise(y, BINS, Y_MIN, Y_MAX) - ce2)


def test_null_cross_entropy_gives_nan_galaxy(estimates):
    y, ce1, ce2, ce12 = (a.copy() for a in estimates)
    ce2[3] = -9999.0
    parts = decompose(y, ce1, ce2, ce12, BINS, Y_MIN, Y_MAX)
    assert np.isnan([parts[name][3] for name in ("mi2", "redundant", "synergy")]).all()
    assert np.isfinite(parts["mi1"][3])


def test_summarise_components_per_split(estimates):
    parts = decompose(*estimates, BINS, Y_MIN, Y_MAX)
    split = np.where(np.arange(500) < 300, "train", "test")
    summary = summarise_components(parts, split)
    assert set(summary) == {"train", "test"}
    assert summary["train"]["n"] == 300 and summary["test"]["n"] == 200
    for name in COMPONENTS:
        assert summary["test"][name] == pytest.approx(parts[name][300:].mean())


def test_prior_bins_as_the_scl_labels_even_on_bin_edges():
    """One binning: the prior's histogram counts each y in the bin of its SCL label. The MI
    module's former copy, (y - y_min) / (y_max - y_min) * bins, put y = 6.1 (an edge of the
    default 65 bins) one bin lower than the labels (floor(0.1 / 0.1) = 1, but 0.1 / 6.5 * 65 < 1)."""
    edges = bin_edges(65, Y_MIN, 12.5)
    y = np.concatenate([edges, np.nextafter(edges, -np.inf), [5.0, 13.0],
                        np.random.default_rng(2).uniform(5.5, 13.0, 300)])
    labels = to_bin(y, edges)
    assert labels[1] == 1 and labels[0] == 0 and labels[65] == 64  # y_max sits in the last bin
    h = prior_surprise(y, 65, Y_MIN, 12.5)
    counts = np.bincount(labels, minlength=65)
    np.testing.assert_array_equal(h, -np.log(counts[labels] / len(y)))


def test_bin_edges_refuse_an_empty_range():
    with pytest.raises(ValueError, match="y_max > y_min"):
        bin_edges(10, 12.5, 6.0)
    with pytest.raises(ValueError, match="bins >= 1"):
        prior_surprise(np.ones(3), 0, 0.0, 1.0)
