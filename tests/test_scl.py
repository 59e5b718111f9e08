"""Tests of galaxy_xai.models.scl: input sets, labels, SCL / MI models, inference and metrics."""
import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from galaxy_xai.info.binning import bin_centres, bin_edges, to_bin
from galaxy_xai.models import scl

N = 64
BINS = 16


def make_catalog(n=N, seed=0):
    """A tiny prepared stellar-mass catalogue (docs/prepared_layout.md) with images."""
    rng = np.random.default_rng(seed)
    cols = {"lgm_tot_p50": rng.uniform(8, 12, n), "z": rng.uniform(0.01, 0.3, n),
            "EBV": rng.uniform(0.01, 0.1, n)}
    for b in scl.OPTICAL:
        cols[f"petroMag_{b}"] = rng.normal(18, 1, n)
        cols[f"petroMagErr_{b}"] = rng.uniform(0.01, 0.1, n)
        cols[f"petroFlux_{b}"] = rng.uniform(10, 100, n)
        cols[f"Sersic_n_{b}"] = rng.uniform(0.5, 6, n)
        cols[f"expAB_{b}"] = rng.uniform(0.1, 1, n)
        cols[f"petroR50_{b}"] = rng.uniform(1, 5, n)
        cols[f"petroR90_{b}"] = rng.uniform(3, 12, n)
    for w in scl.INFRARED:
        cols[f"{w}mpro"] = rng.normal(15, 1, n)
    for w in scl.INFRARED[:2]:
        cols[f"{w}sigmpro"] = rng.uniform(0.02, 0.2, n)
    df = pd.DataFrame(cols)
    df["split"] = np.where(np.arange(n) < 3 * n // 4, "train", "validation")
    df["row"] = np.arange(n)
    images = rng.normal(0, 1, (n, 64, 64, 5)).astype(np.float32) + np.float32(5.0)
    return df, images


@pytest.fixture(scope="module")
def catalog():
    return make_catalog()


IMG = (64, 64)


@pytest.mark.parametrize("name, main_shape, n_add", [
    ("Mopt", (5,), 6), ("MoptMir", (8,), 8), ("Iopt", IMG + (5,), 1), ("IoptMir", IMG + (5,), 6),
    ("IoptMirZspec", IMG + (5,), 7), ("Ioptnorm", IMG + (5,), 1), ("Morph", (20,), 0),
    ("Mir", (3,), 2), ("Zspec", (1,), 0), ("Mopt+Ioptnorm", IMG + (5,), 11),
    ("Mopt+Mir", (8,), 8), ("Mopt+Morph", (25,), 6), ("Iopt_r", IMG + (1,), 1),
    ("Iopt_ugiz", IMG + (4,), 1), ("Iopt_r+Iopt_ugiz", IMG + (5,), 1), ("Mopt_gr", (2,), 3),
    ("MoptMir_zw1", (2,), 3), ("IoptMir+Zspec", IMG + (5,), 7),
])
def test_dataset_inputs_shapes(catalog, name, main_shape, n_add):
    df, images = catalog
    main, add = scl.dataset_inputs(name, df, images)
    assert main.shape == (N,) + main_shape and main.dtype == np.float32
    assert add.shape == (N, n_add) and add.dtype == np.float32
    assert np.isfinite(main).all() and np.isfinite(add).all()


def test_band_split_keeps_the_chosen_bands():
    r = scl.parse_input_set("Iopt_r")
    rest = scl.parse_input_set("Iopt_ugiz")
    assert r.bands == ("r",) and rest.bands == ("u", "g", "i", "z")
    assert scl.parse_input_set("Mopt_r").main == ("petroMag_r",)
    assert scl.parse_input_set("Mopt_r").add == ("EBV", "petroMagErr_r")
    with pytest.raises(ValueError):
        scl.parse_input_set("Iopt_x")
    with pytest.raises(ValueError):
        scl.parse_input_set("Mir_r")  # no main input left
    with pytest.raises(ValueError):
        scl.parse_input_set("Nope")


def test_union_puts_photometry_into_the_additional_input():
    spec = scl.parse_input_set("Mopt+Ioptnorm")
    assert spec.norm and spec.bands == scl.OPTICAL and spec.main == ()
    assert spec.add.count("EBV") == 1 and "petroMag_r" in spec.add and "petroMagErr_u" in spec.add
    both = scl.parse_input_set("Mopt+MoptMir")
    assert len(set(both.main)) == len(both.main) == 8
    assert not set(both.main) & set(both.add)


def test_band_split_selects_image_channels(catalog):
    df, images = catalog
    main, _ = scl.dataset_inputs("Iopt_gz", df, images)
    np.testing.assert_allclose(main, scl.sign_log(images[..., [1, 4]]), rtol=1e-6)


def test_nulls_get_the_training_median_and_stats_are_reused():
    df, images = make_catalog()
    train = (df["split"] == "train").to_numpy()
    raw = df["petroMag_r"].to_numpy().copy()
    null_rows = [0, 1, 2, 60]  # three training rows, one validation row
    df.loc[null_rows, "petroMag_r"] = [-9999.0, np.nan, 9999.0, -9999.0]
    main, add = scl.dataset_inputs("Mopt", df)
    stats = scl.fit_input_stats("Mopt", df)

    good = train & ~np.isin(np.arange(N), null_rows)
    median = np.median(raw[good])
    assert stats["fill"]["petroMag_r"] == pytest.approx(median)
    filled = (median - stats["mean"]["petroMag_r"]) / stats["std"]["petroMag_r"]
    np.testing.assert_allclose(main[null_rows, 2], filled, rtol=1e-5)
    assert np.isfinite(main).all() and main.shape == (N, 5)  # nothing added for nulls
    # standardised by the training rows
    np.testing.assert_allclose(main[train].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(main[train].std(0), 1, atol=1e-4)
    # the same statistics applied to a subset (e.g. inference) give the same numbers
    sub = df.iloc[40:]
    main_sub, add_sub = scl.dataset_inputs("Mopt", sub, stats=stats)
    np.testing.assert_allclose(main_sub, main[40:], rtol=1e-6)
    np.testing.assert_allclose(add_sub, add[40:], rtol=1e-6)
    with pytest.raises(ValueError):
        scl.dataset_inputs("MoptMir", sub, stats=stats)


def test_image_rows_follow_the_row_column_and_ioptnorm_divides_by_clipped_flux(catalog):
    df, images = catalog
    shuffled = df.iloc[::-1]
    main, add = scl.dataset_inputs("Iopt", shuffled, images)
    np.testing.assert_allclose(main, scl.sign_log(images[::-1]), rtol=1e-6)

    stats = scl.fit_input_stats("Ioptnorm", df, p_lo=10, p_hi=90)
    norm, _ = scl.dataset_inputs("Ioptnorm", df, images, stats=stats)
    lo, hi = stats["flux_clip"]["g"]
    train_flux = df.loc[df["split"] == "train", "petroFlux_g"]
    assert lo == pytest.approx(np.percentile(train_flux, 10))
    flux = np.clip(df["petroFlux_g"].to_numpy(), lo, hi)
    expected = scl.sign_log(images[..., 1] / flux[:, None, None])
    np.testing.assert_allclose(norm[..., 1], expected, rtol=1e-5)
    with pytest.raises(ValueError):
        scl.dataset_inputs("Iopt", df)  # images required


def test_to_bin_clips_into_range():
    edges = bin_edges(10, 6.0, 12.5)
    assert len(edges) == 11 and edges[0] == 6.0 and edges[-1] == 12.5
    width = 0.65
    y = np.array([-3.0, 5.0, 6.0, 6.0 + 3.5 * width, 12.4999, 12.5, 13.0, 50.0])
    np.testing.assert_array_equal(to_bin(y, edges), [0, 0, 0, 3, 9, 9, 9, 9])
    hot = scl.one_hot(to_bin(y, edges), 10)
    assert hot.shape == (8, 10) and (hot.sum(1) == 1).all() and hot[3, 3] == 1
    for null in (-9999.0, np.nan):  # a missing target is not an extreme one
        with pytest.raises(ValueError):
            to_bin(np.array([9.0, null]), edges)


def _fit(model, ds, steps, lr=1e-3):
    model.compile(optimizer=keras.optimizers.Adam(lr))
    return model.fit(ds, epochs=steps, steps_per_epoch=1, verbose=0).history


SCL_LOSSES = {"loss", "ce", "recon", "ycontrast", "lcontrast"}


@pytest.mark.parametrize("name, kwargs, study, batch_size", [
    ("Mopt", dict(n_layers=3), (8, 8, 1.0), 8),
    ("IoptMir", dict(width=0.125), (16, 512, 100.0), 4),
])
def test_one_step_reports_every_loss(catalog, name, kwargs, study, batch_size):
    df, images = catalog
    main, add = scl.dataset_inputs(name, df, images)
    edges = bin_edges(BINS)
    model = scl.SCLModel(main.shape[1:], add.shape[1], bins=BINS, seed=1, **kwargs)
    assert (model.m, model.e, model.coeff_recon) == study  # the study's defaults per input kind
    ds = scl.train_dataset(main, add, df["lgm_tot_p50"].to_numpy(), edges, batch_size=batch_size, seed=1)
    history = _fit(model, ds, 1)
    assert set(history) == SCL_LOSSES
    assert all(np.isfinite(v[0]) and v[0] > 0 for v in history.values())


def test_mi_only_has_no_decoder_and_trains_on_cross_entropy(catalog):
    df, images = catalog
    main, add = scl.dataset_inputs("Mopt+Mir", df)
    edges = bin_edges(BINS)
    model = scl.SCLModel(main.shape[1:], add.shape[1], bins=BINS, n_layers=3, mi_only=True)
    assert model.decoder is None and model.e == 0
    ds = scl.train_dataset(main, add, df["lgm_tot_p50"].to_numpy(), edges, 8, pairs=False)
    history = _fit(model, ds, 1)
    assert set(history) == {"loss", "ce"} and history["loss"] == history["ce"]
    # the image variant: encoder + estimator only, latent of m = 16 dims
    image_model = scl.SCLModel(IMG + (1,), 1, bins=BINS, width=0.125, mi_only=True)
    assert image_model.decoder is None and image_model.encoder.output.shape[-1] == 16


def test_latent_contrast_is_minus_log_p_over_p_plus_n(catalog):
    """Photometry passes are deterministic, so the loss terms can be recomputed by hand."""
    df, _ = catalog
    main, add = scl.dataset_inputs("Mopt", df)
    y = scl.one_hot(to_bin(df["lgm_tot_p50"], bin_edges(BINS)), BINS)
    model = scl.SCLModel((5,), 6, bins=BINS, n_layers=3)
    losses = model.scl_losses(tf.constant(main[:16]), tf.constant(add[:16]), tf.constant(y[:16]))

    def rms(a, b):
        return np.sqrt(np.mean((a - b) ** 2, axis=1))

    def ce(y, logits):
        return np.mean(-np.sum(y * np.asarray(tf.nn.log_softmax(logits)), axis=1))

    passes, ce_sum, recon_sum = [], 0.0, 0.0
    for part in (slice(0, 8), slice(8, 16)):  # mini-batch A, then B
        z1, r1, l1 = (np.asarray(t) for t in model.forward(main[part], add[part]))
        z2, r2, l2 = (np.asarray(t) for t in model.forward(r1, add[part]))
        passes.append((z1, z2))
        ce_sum += ce(y[part], l1) + ce(y[part], l2)
        recon_sum += np.mean((main[part] - r1) ** 2) + np.mean((main[part] - r2) ** 2)
    p = np.exp(-np.mean(np.concatenate([rms(z1, z2) for z1, z2 in passes])))
    n = np.exp(-np.mean(rms(passes[0][0], passes[1][0])))
    assert float(losses["lcontrast"]) == pytest.approx(-np.log(p / (p + n)), rel=1e-4)
    assert float(losses["ce"]) == pytest.approx(ce_sum, rel=1e-4)
    assert float(losses["recon"]) == pytest.approx(recon_sum, rel=1e-4)
    total = losses["ce"] + losses["recon"] + losses["ycontrast"] + losses["lcontrast"]
    assert float(losses["loss"]) == pytest.approx(float(total), rel=1e-5)


def test_loss_decreases_on_an_easy_problem():
    df, _ = make_catalog(n=128, seed=3)
    main, add = scl.dataset_inputs("Mopt", df)
    y = 9.0 + 0.8 * main[:, 2]  # mass is a linear function of the r magnitude
    edges = bin_edges(BINS, 6.0, 12.5)
    keras.utils.set_random_seed(0)
    model = scl.SCLModel((5,), 6, bins=BINS, n_layers=4, seed=0)
    ds = scl.train_dataset(main, add, y, edges, batch_size=16, seed=0)
    history = _fit(model, ds, 30, lr=2e-3)
    assert np.mean(history["ce"][-5:]) < 0.8 * np.mean(history["ce"][:5])  # ~0.6 in practice
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])


def test_train_dataset_pairs_distinct_galaxies():
    main = np.arange(20, dtype=np.float32)[:, None]
    add = np.zeros((20, 0), np.float32)
    edges = bin_edges(4)
    ds = scl.train_dataset(main, add, np.full(20, 7.0), edges, batch_size=4, seed=0)
    for (x, a), y in ds.take(12):  # crosses several epochs of 2 batches each
        ids = x.numpy().ravel()
        assert len(ids) == 8 and len(set(ids)) == 8
        assert a.shape == (8, 0) and y.shape == (8, 4)
    with pytest.raises(ValueError):
        scl.train_dataset(main[:5], add[:5], np.zeros(5), edges, batch_size=4)


def test_random_dihedral_is_a_rotation_or_flip_and_never_identity():
    x = tf.constant(np.random.default_rng(0).normal(size=(64, 6, 6, 2)).astype(np.float32))
    out = scl.random_dihedral(x, keras.random.SeedGenerator(0), allow_identity=False).numpy()
    xs = x.numpy()
    seen = set()
    for orig, new in zip(xs, out):
        variants = [np.rot90(f, k) for f in (orig, orig[::-1]) for k in range(4)]
        match = [i for i, v in enumerate(variants) if np.array_equal(v, new)]
        assert match and match[0] != 0
        seen.add(match[0])
    assert len(seen) == 7  # every non-identity element occurs in 64 draws


def test_infer_shapes_and_estimates_in_range(catalog):
    df, _ = catalog
    main, add = scl.dataset_inputs("Mopt", df)
    model = scl.SCLModel((5,), 6, bins=BINS, n_layers=3)
    out = scl.infer(model, main, add, batch_size=20)
    assert out["latent"].shape == (N, 8) and out["p"].shape == (N, BINS)
    np.testing.assert_allclose(out["p"].sum(1), 1, rtol=1e-5)
    centres = bin_centres(bin_edges(BINS))
    for key in ("mean", "mode", "median"):
        assert out[key].shape == (N,)
        assert (out[key] >= 6.0).all() and (out[key] <= 12.5).all()
    assert np.isin(out["mode"], centres).all() and np.isin(out["median"], centres).all()


def test_point_estimates_by_hand():
    edges = bin_edges(4, 0.0, 4.0)  # centres 0.5 1.5 2.5 3.5
    p = np.array([[0, 1, 0, 0], [0.1, 0.2, 0.3, 0.4], [0.6, 0, 0, 0.4]], float)
    est = scl.point_estimates(p, edges)
    np.testing.assert_allclose(est["mean"], [1.5, 2.5, 0.5 * 0.6 + 3.5 * 0.4])
    np.testing.assert_allclose(est["mode"], [1.5, 3.5, 0.5])
    np.testing.assert_allclose(est["median"], [1.5, 2.5, 0.5])


def test_per_galaxy_cross_entropy_is_minus_log_p_true_bin():
    edges = bin_edges(4, 0.0, 4.0)
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.0, 0.0]])
    ce = scl.per_galaxy_cross_entropy(p, np.array([2.2, 3.9]), edges)
    np.testing.assert_allclose(ce, [-np.log(0.3), -np.log(1e-20)])


def test_metrics_on_hand_made_numbers():
    y_true = np.zeros(6)
    delta = np.array([-1.0, 0.0, 0.0, 0.0, 1.0, 5.0])
    m = scl.photoz_style_metrics(y_true, y_true + delta)
    assert m["bias"] == pytest.approx(5 / 6)
    assert m["sigma_mad"] == pytest.approx(1.4826 * 0.5)  # median |Δ − 0| = 0.5
    assert m["eta"] == pytest.approx(1 / 6)  # only Δ = 5 exceeds 3σ_MAD = 2.22
    assert "crps" not in m

    edges = bin_edges(10, 0.0, 1.0)
    y = np.array([0.05, 0.55, 0.95])
    perfect = scl.one_hot(to_bin(y, edges), 10)
    assert scl.photoz_style_metrics(y, y, perfect, edges)["crps"] == pytest.approx(0.0)
    off_by_two = scl.one_hot(to_bin(y, edges) - np.array([0, 2, 2]), 10)
    crps = scl.photoz_style_metrics(y, y, off_by_two, edges)["crps"]
    assert crps == pytest.approx((0 + 0.2 + 0.2) / 3)  # two bins of width 0.1 with (1 − 0)²


def test_optimizer_divides_the_rate_after_a_third():
    schedule = scl.scl_lr_schedule(300, learning_rate=1e-4, drop_fraction=1 / 3, drop_factor=5.0)
    assert isinstance(scl.scl_optimizer(300), keras.optimizers.Adam)
    assert float(schedule(0)) == pytest.approx(1e-4)
    assert float(schedule(99)) == pytest.approx(1e-4)
    assert float(schedule(101)) == pytest.approx(2e-5)


def test_model_config_round_trip(catalog, tmp_path):
    df, _ = catalog
    main, add = scl.dataset_inputs("Mopt", df)
    model = scl.SCLModel((5,), 6, bins=BINS, n_layers=3, y_min=7.0)
    path = tmp_path / "scl.weights.h5"
    model.save_weights(path)
    clone = scl.SCLModel.from_config(model.get_config())
    clone.load_weights(path)
    assert clone.y_min == 7.0 and clone.m == 8
    np.testing.assert_allclose(scl.infer(clone, main, add)["p"], scl.infer(model, main, add)["p"], rtol=1e-5)


def test_image_encoder_passes_the_signal_at_initialisation():
    # With Glorot kernels the ReLU stack of the Inception net shrank the spread of the latent
    # across galaxies to ~3e-4 of the input's, so nothing reached the estimator; He kernels keep it.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    brightness = rng.uniform(0, 1, (32, 1, 1, 1)).astype(np.float32)
    images = rng.normal(0, 0.1, (32, 64, 64, 5)).astype(np.float32) + 0.3 * brightness
    encoder = scl.image_encoder((64, 64, 5), 1, 16, width=0.125)
    latent = encoder.predict([images, np.zeros((32, 1), np.float32)], verbose=0)
    assert latent.std(axis=0).mean() / images.std() > 0.01
