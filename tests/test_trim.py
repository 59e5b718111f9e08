"""Tests of TRIM band masks, band removal, band scores and the paper's simulation."""
import keras
import numpy as np
import pytest

from galaxy_xai.domain import TRIM_METHODS
from galaxy_xai.xai import trim

SHAPES = [(16, 16), (15, 12), (9, 20)]


def _images(n=3, height=12, width=10, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, height, width, channels)).astype(np.float32)


def _nonlinear_model(shape, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(shape),
                             keras.layers.Conv2D(4, 3, activation="tanh"),
                             keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softplus")])


def _linear_model(weights, bias=0.3):
    """f(x) = Σ w·x + bias as a Keras model."""
    model = keras.Sequential([keras.Input(weights.shape), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.layers[-1].set_weights([weights.reshape(-1, 1), np.array([bias], np.float32)])
    return model


@pytest.mark.parametrize("height,width", SHAPES)
def test_masks_partition_the_plane_symmetrically(height, width):
    masks = trim.radial_band_masks(height, width, 5)
    assert masks.shape == (5, height, width) and masks.dtype == np.float32
    assert set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks.sum(0), 1.0)
    assert masks[0, 0, 0] == 1.0  # DC in band 0
    assert masks.sum((1, 2)).min() > 0
    flipped = masks[:, (-np.arange(height)) % height][:, :, (-np.arange(width)) % width]
    np.testing.assert_array_equal(flipped, masks)  # k -> -k


def test_bands_increase_in_radius():
    masks = trim.radial_band_masks(20, 14, 6)
    radius = np.hypot(np.fft.fftfreq(20)[:, None], np.fft.fftfreq(14)[None, :])
    lo = [radius[m > 0].min() for m in masks]
    hi = [radius[m > 0].max() for m in masks]
    assert all(h < l for h, l in zip(hi[:-1], lo[1:]))
    assert hi[-1] == radius.max()


def test_remove_all_and_no_bands():
    x = _images()
    np.testing.assert_allclose(trim.remove_bands(x, np.zeros((12, 10))), 0.0, atol=1e-6)
    np.testing.assert_allclose(trim.remove_bands(x, np.ones((12, 10))), x, atol=1e-5)
    assert trim.imag_residue(x, np.ones((12, 10))) < 1e-5


def test_band_masks_keep_images_real_and_components_add_up():
    x = _images()
    masks = trim.radial_band_masks(12, 10, 4)
    for mask in masks:
        assert trim.imag_residue(x, mask) < 1e-5
    asymmetric = np.zeros((12, 10), np.float32)
    asymmetric[0, 1] = 1.0  # +k without -k: the filtered image must be complex
    assert trim.imag_residue(x, asymmetric) > 1e-3
    parts = trim.band_components(x, masks).numpy()
    assert parts.shape == (3, 4, 12, 10, 2)
    np.testing.assert_allclose(parts.sum(1), x, atol=1e-5)
    np.testing.assert_allclose(parts[:, 1], trim.remove_bands(x, masks[1]), atol=1e-6)


def test_per_image_keep_mask():
    x = _images()
    keep = np.stack([np.ones((12, 10)), np.zeros((12, 10)), np.ones((12, 10))])
    out = trim.remove_bands(x, keep).numpy()
    np.testing.assert_allclose(out[[0, 2]], x[[0, 2]], atol=1e-5)
    np.testing.assert_allclose(out[1], 0.0, atol=1e-6)


def test_integrated_gradients_completeness_per_band():
    x = _images(seed=1)
    model = _nonlinear_model(x.shape[1:])
    masks = trim.radial_band_masks(12, 10, 4)
    ig = trim.band_importance(model, x, 1, masks, "integrated_gradients", steps=64)
    knockout = trim.band_importance(model, x, 1, masks, "knockout")
    assert np.abs(knockout).min() > 1e-3  # every band matters, so 1 % is meaningful
    np.testing.assert_allclose(ig, knockout, rtol=0.01)


def test_zero_baseline_integrated_gradients_sum_to_f_x_minus_f_0():
    x = _images(seed=2)
    model = _nonlinear_model(x.shape[1:])
    masks = trim.radial_band_masks(12, 10, 4)
    ig = trim.band_importance(model, x, 2, masks, "integrated_gradients_zero", steps=64)
    delta = trim.predict_output(model, x, 2) - trim.predict_output(model, 0 * x, 2)
    np.testing.assert_allclose(ig.sum(1), delta, rtol=0.01)
    # Gradient x input is only the first-order term: it misses that total for this model.
    gxi = trim.band_importance(model, x, 2, masks, "gradient_x_input")
    assert np.abs(gxi.sum(1) - delta).max() > 0.05 * np.abs(delta).max()


@pytest.mark.parametrize("method", TRIM_METHODS)
def test_scores_do_not_depend_on_batching(method):
    x = _images(n=4, seed=3)
    model = _nonlinear_model(x.shape[1:])
    masks = trim.radial_band_masks(12, 10, 3)
    small = trim.band_importance(model, x, 0, masks, method, steps=8, batch_size=5)
    large = trim.band_importance(model, x, 0, masks, method, steps=8, batch_size=500)
    assert small.shape == (4, 3)
    np.testing.assert_allclose(small, large, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", TRIM_METHODS)
def test_linear_model_on_one_band_ranks_it_first(method):
    masks = trim.radial_band_masks(16, 16, 6)
    target = 3
    pattern = _images(n=1, height=16, width=16, channels=1, seed=4)
    weights = trim.remove_bands(pattern, masks[target]).numpy()[0]
    model = _linear_model(weights)
    x = _images(n=5, height=16, width=16, channels=1, seed=5)
    scores = trim.band_importance(model, x, 0, masks, method, steps=8)
    assert np.argmax(trim.mean_curve(np.abs(scores))) == target
    # Linear f: every method gives w·x_b, exactly zero off the band (orthogonal subspaces).
    others = np.delete(scores, target, axis=1)
    assert np.abs(others).max() < 1e-4 * np.abs(scores[:, target]).max()
    np.testing.assert_allclose(scores[:, target], np.sum(weights * x, axis=(1, 2, 3)), rtol=1e-4)


def test_unknown_method_is_rejected():
    x = _images(n=1)
    with pytest.raises(ValueError):
        trim.band_importance(_nonlinear_model(x.shape[1:]), x, 0,
                             trim.radial_band_masks(12, 10, 2), "lime")


def test_normalise_and_mean_curve():
    scores = np.array([[1.0, 2.0], [3.0, 4.0]])
    normalised = trim.normalise_by_prediction(scores, np.array([2.0, 4.0]))
    np.testing.assert_allclose(normalised, [[0.5, 1.0], [0.75, 1.0]])
    np.testing.assert_allclose(trim.mean_curve(normalised), [0.625, 1.0])


def test_frequency_bands_cover_each_rfft_frequency_once():
    masks = trim.frequency_bands(14, 8)
    assert masks.shape == (8, 8) and np.array_equal(masks, np.eye(8))
    masks = trim.frequency_bands(32, 8)
    assert masks.shape == (8, 17) and np.all(masks.sum(0) == 1) and np.all(masks.sum(1) >= 2)
    with pytest.raises(ValueError):
        trim.frequency_bands(6, 8)


def test_simulated_label_is_the_frequency_magnitude_above_its_median():
    x, y = trim.simulate_frequency_dataset(400, 14, 3, np.random.default_rng(0))
    assert x.shape == (400, 14) and y.mean() == pytest.approx(0.5)
    magnitude = np.abs(np.fft.rfft(x, axis=1))
    np.testing.assert_array_equal(magnitude[:, 3] > np.median(magnitude[:, 3]), y > 0.5)
    parts = trim.frequency_parts(x, trim.frequency_bands(14, 8))
    np.testing.assert_allclose(parts.sum(1), x, atol=1e-5)


def _relu_mlp(d=14, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((d,)), keras.layers.Dense(16, activation="relu", bias_initializer="random_normal"),
                             keras.layers.Dense(16, activation="relu", bias_initializer="random_normal"),
                             keras.layers.Dense(1, bias_initializer="ones")])


def test_deeplift_and_shapley_are_complete():
    model = _relu_mlp()
    x = np.random.default_rng(1).normal(size=(5, 14)).astype(np.float32)
    parts = trim.frequency_parts(x, trim.frequency_bands(14, 8))
    f = trim.ModelOutput(model, 0)
    delta = f.predict(x) - f.predict(np.zeros_like(x[:1]))[0]
    for method in ("deeplift", "shapley", "integrated_gradients"):
        scores = trim.frequency_scores(f, x, parts, method, steps=256, batch_size=512)
        np.testing.assert_allclose(scores.sum(1), delta, rtol=1e-3, atol=1e-3 if method != "integrated_gradients" else 2e-2)


def test_shapley_of_an_additive_model_is_each_band_term():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((14,)), keras.layers.Dense(1)])  # linear: v(S) additive
    x = np.random.default_rng(2).normal(size=(3, 14)).astype(np.float32)
    parts = trim.frequency_parts(x, trim.frequency_bands(14, 8))
    f = trim.ModelOutput(model, 0)
    expected = np.einsum("nbd,d->nb", parts, np.asarray(model.layers[0].kernel)[:, 0])
    np.testing.assert_allclose(trim.frequency_scores(f, x, parts, "shapley", 1, 512), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trim.frequency_scores(f, x, parts, "cd", 1, 512), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trim.frequency_scores(f, x, parts, "deeplift", 1, 512), expected, rtol=1e-4, atol=1e-5)


def test_validate_methods_smoke():
    # One small dataset: the network must beat chance and every method must find the frequency.
    result = trim.validate_methods(n_datasets=1, n_train=1500, n_features=14, n_bands=8, methods=trim.VALIDATE_METHODS,
                                   hidden=32, epochs=15, n_explain=100, steps=8, seed=0)
    (record,) = result["datasets"]
    assert 0 <= record["target_band"] < 8 and record["accuracy"] > 0.75
    assert len(record["curve_mean_abs"]["knockout"]) == 8 and record["cd_completeness_gap"] < 1e-4
    for method, stats in result["methods"].items():
        assert record["ranked_first"][method] == record["target_band"], method
        assert stats["errors"] == 0 and stats["n_datasets"] == 1


def test_validate_method_names_agree_with_the_config():
    from galaxy_xai.config.trim import VALIDATE_METHODS
    assert VALIDATE_METHODS == trim.VALIDATE_METHODS


def test_a_model_output_is_reused_and_scores_as_the_model():
    x = _images(n=4, seed=6)
    model = _nonlinear_model(x.shape[1:])
    masks = trim.radial_band_masks(12, 10, 3)
    f = trim.ModelOutput(model, 0)
    assert trim.model_output(f, 0) is f
    for method in ("knockout", "integrated_gradients_zero"):
        np.testing.assert_allclose(trim.band_importance(f, x, 0, masks, method, steps=4),
                                   trim.band_importance(model, x, 0, masks, method, steps=4), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(trim.predict_output(f, x, 0), model.predict(x, verbose=0)[:, 0], rtol=1e-5, atol=1e-6)


def test_trim_cd_of_a_linear_model_is_each_band_through_the_model():
    # Linear, bias-free: CD of band b is f(x_b), and the bands add up to f(x).
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, use_bias=False),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, use_bias=False)])
    x = np.random.default_rng(0).random((3, 8, 8, 2), dtype=np.float32)
    masks = trim.radial_band_masks(8, 8, 4)
    scores = trim.band_importance(model, x, 1, masks, "cd", batch_size=8)
    parts = np.asarray(trim.band_components(x, masks))
    expected = np.asarray(model(parts.reshape(-1, 8, 8, 2)))[:, 1].reshape(3, 4)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores.sum(1), np.asarray(model(x))[:, 1], rtol=1e-4, atol=1e-5)


def test_networks_trained_at_once_each_learn_their_own_dataset():
    rng = np.random.default_rng(0)
    data = [trim.simulate_frequency_dataset(1200, 14, k, rng) for k in (1, 5)]
    x, y = np.stack([d[0] for d in data]), np.stack([d[1] for d in data])
    models = trim.train_frequency_classifiers(x[:, :1000], y[:, :1000], hidden=32, epochs=15, seed=0)
    accuracy = [[np.mean((np.asarray(m(x[j, 1000:]))[:, 0] > 0) == (y[j, 1000:] > 0.5)) for j in range(2)] for m in models]
    assert accuracy[0][0] > 0.75 and accuracy[1][1] > 0.75  # each on its own frequency
    assert accuracy[0][1] < 0.65 and accuracy[1][0] < 0.65  # near chance on the other's
