import keras
import numpy as np
import pytest

from bench.smoothgrad import tf_keras_vis_one_by_one  # the reference: as the original study ran it
from galaxy_xai.xai.bar_length import CONSTANT_HEATMAP, measure_bar_lengths
from galaxy_xai.xai.smoothgrad import iter_smoothgrad, linear_output_model, smoothgrad

OUTPUT_INDEX = 2
SAMPLES = 4
NOISE = 0.2


def tiny_model(size=16, units=4, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(units, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((5, 16, 16, 3), dtype=np.float32)


def test_matches_tf_keras_vis_with_the_same_noise(model, images):
    expected = tf_keras_vis_one_by_one(model, images, OUTPUT_INDEX, SAMPLES, NOISE, seed=7)
    # 2 images per gradient call: chunks of 2, 2, 1 images
    maps = smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, batch_size=8,
                      seed=np.random.RandomState(7))
    assert maps.shape == (5, 16, 16) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    # and the noise matters: another seed gives other maps
    other = smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, batch_size=8,
                       seed=np.random.RandomState(8))
    assert np.abs(other - expected).max() > 1e-3


def test_maps_do_not_depend_on_chunking(model, images):
    one_by_one = smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, batch_size=1, seed=3)
    all_at_once = smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, batch_size=64, seed=3)
    np.testing.assert_allclose(one_by_one, all_at_once, atol=1e-6)


def test_maps_are_normalised_per_map(model, images):
    maps = smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, batch_size=8, seed=0)
    np.testing.assert_allclose(maps.min(axis=(1, 2)), 0, atol=1e-7)
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1, atol=1e-4)


def test_iter_smoothgrad_streams_chunks(model, images):
    chunks = iter_smoothgrad(model, iter(list(images)), OUTPUT_INDEX, SAMPLES, NOISE,
                             batch_size=2 * SAMPLES, seed=0)
    assert [c.shape for c in chunks] == [(2, 16, 16), (2, 16, 16), (1, 16, 16)]


def test_linear_output_model_gives_logits_and_keeps_the_original(model, images):
    probabilities = model.predict(images, verbose=0)
    logits = linear_output_model(model).predict(images, verbose=0)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probabilities, rtol=1e-5)
    assert model.layers[-1].activation is keras.activations.sigmoid


def test_linear_output_model_handles_sequential_and_activation_layers(images):
    keras.utils.set_random_seed(0)
    sequential = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                                   keras.layers.Dense(3, activation="sigmoid")])
    inputs = keras.Input((16, 16, 3))
    logits = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    separate = keras.Model(inputs, keras.layers.Activation("sigmoid")(logits))
    for model in (sequential, separate):
        linear = linear_output_model(model).predict(images, verbose=0)
        np.testing.assert_allclose(1 / (1 + np.exp(-linear)), model.predict(images, verbose=0),
                                   rtol=1e-5)


def test_zero_gradient_gives_zero_maps_that_are_flagged(images):
    dead = tiny_model()
    dead.set_weights([np.zeros_like(w) for w in dead.get_weights()])
    maps = smoothgrad(dead, images[:2], OUTPUT_INDEX, SAMPLES, NOISE, batch_size=8, seed=0)
    assert np.all(maps == 0)
    lengths, flags = measure_bar_lengths(maps, corr_threshold=0.5, len_threshold=5)
    assert np.isnan(lengths).all() and list(flags) == [CONSTANT_HEATMAP] * 2


def test_rejects_zero_samples(model, images):
    with pytest.raises(ValueError, match="samples"):
        smoothgrad(model, images, OUTPUT_INDEX, 0, NOISE, batch_size=8)


# --------------------------------------------------------------------------- randomisation sanity check

def test_randomised_copy_reinitialises_from_the_output_down_and_keeps_the_original(model):
    from galaxy_xai.xai.smoothgrad import randomised_copy, weighted_layers

    before = [w.copy() for w in model.get_weights()]
    copy = randomised_copy(model, 1, seed=0)
    trained, randomised = weighted_layers(model), weighted_layers(copy)
    assert [layer.name for layer in trained] == [layer.name for layer in randomised]
    np.testing.assert_array_equal(randomised[0].get_weights()[0], trained[0].get_weights()[0])  # below: kept
    assert not np.allclose(randomised[-1].get_weights()[0], trained[-1].get_weights()[0])  # output layer: new
    assert np.all(randomised[-1].get_weights()[1] == 0)  # bias re-initialised to 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weighted_layers_flattens_nested_models():
    from galaxy_xai.xai.smoothgrad import weighted_layers

    inner = tiny_model(units=3)
    inputs = keras.Input((16, 16, 3))
    outer = keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(inner(inputs)))
    assert len(weighted_layers(outer)) == len(weighted_layers(inner)) + 1


def test_rank_similarity_is_one_for_the_same_ranks_and_nan_for_a_constant_map():
    from galaxy_xai.xai.smoothgrad import rank_similarity

    maps = np.random.default_rng(0).random((3, 8, 8))
    rho = rank_similarity(maps, maps ** 3)  # monotone: same ranks
    np.testing.assert_allclose(rho, 1.0)
    assert np.isnan(rank_similarity(maps[:1], np.zeros((1, 8, 8))))[0]
    assert abs(np.median(rank_similarity(maps, np.random.default_rng(1).random((3, 8, 8))))) < 0.3


def test_randomisation_test_reports_each_depth(model, images):
    from galaxy_xai.xai.smoothgrad import randomisation_test

    result = randomisation_test(model, images[:3], OUTPUT_INDEX, [0.3, 1.0], SAMPLES, NOISE, batch_size=8, seed=3)
    assert result["n_weighted_layers"] == 3 and result["n_galaxies"] == 3
    assert [d["n_layers"] for d in result["depths"]] == [1, 3]
    full = result["depths"][-1]
    assert len(full["spearman"]) == 3 and full["median_spearman"] < 0.99  # destroyed weights change the maps


def test_the_first_maps_of_a_run_are_the_maps_of_those_images_alone(model, images):
    # what lets the heatmaps stage reuse its maps as the randomisation test's trained maps
    np.testing.assert_array_equal(smoothgrad(model, images, OUTPUT_INDEX, SAMPLES, NOISE, 8, seed=4)[:2],
                                  smoothgrad(model, images[:2], OUTPUT_INDEX, SAMPLES, NOISE, 8, seed=4))


def test_randomisation_test_reuses_given_trained_maps(model, images):
    from galaxy_xai.xai.smoothgrad import randomisation_test

    trained = smoothgrad(model, images[:2], OUTPUT_INDEX, SAMPLES, NOISE, 8, seed=3)
    a = randomisation_test(model, images[:2], OUTPUT_INDEX, [1.0], SAMPLES, NOISE, 8, seed=3)
    b = randomisation_test(model, images[:2], OUTPUT_INDEX, [1.0], SAMPLES, NOISE, 8, seed=3, trained=trained)
    assert a["depths"][0]["spearman"] == pytest.approx(b["depths"][0]["spearman"])
