"""Supervised contrastive learning (SCL) and the MI estimator for stellar mass (SPEC §5, §7).

Three parts:
- inputs: `dataset_inputs(name, catalog_df, images)` turns a prepared stellar-mass catalogue
  (docs/prepared_layout.md) into the (main, additional) arrays of one named input set;
- labels: log M* binned on [y_min, y_max] (`galaxy_xai.info.binning`, shared with the MI prior), one-hot;
- `SCLModel`: encoder + decoder + estimator trained on two disjoint mini-batches per step
  (or encoder + estimator with cross-entropy only, `mi_only=True`), plus `infer` and metrics.

Input-set names (the study's `Dataset` labels):
    Mopt, MoptMir, Mir, Morph, Zspec                     photometric sets
    Iopt, Ioptnorm, IoptMir, IoptMirZspec                image sets (ugriz cutouts)
    <set>_<bands>   band selection, e.g. Iopt_r, Iopt_ugiz, Mopt_gr, MoptMir_zw1: keeps the
                    image channels and catalogue keys of those bands (band-free keys such as
                    EBV and z stay)
    A+B(+C…)        union: images stay the main input and the other set's keys join the
                    additional input; two photometric sets concatenate main and additional.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from galaxy_xai.domain import BANDS
from galaxy_xai.info.binning import bin_centres, bin_edges, to_bin
from galaxy_xai.io import is_null
from galaxy_xai.models.training import OUTPUT_DTYPE, replicas, scaled_loss

OPTICAL = tuple(BANDS)
INFRARED = ("w1", "w2", "w3")

# Filter counts of the Treyer et al. (2019) photo-z network; `width` scales all of them.
TREYER_CONV = 96
TREYER_INCEPTION = 156
TREYER_DENSE = 1024
# Inception branch widths relative to the block's kernel count (as in that network).
REDUCE_RATIO = 0.65
SHORTCUT_RATIO = 0.7


# --------------------------------------------------------------------------- input sets

@dataclass(frozen=True)
class InputSpec:
    """What one named input set reads: image bands (main input) or catalogue keys."""
    bands: tuple = ()        # image channels, in ugriz order; empty for photometric sets
    norm: bool = False       # divide each band by the galaxy's (clipped) petroFlux
    main: tuple = ()         # catalogue keys of the main input (photometric sets)
    add: tuple = ()          # catalogue keys of the additional input

    @property
    def is_image(self) -> bool:
        return bool(self.bands)


def _keys(fmt, bands):
    return tuple(fmt.format(b) for b in bands)


_MAGS = _keys("petroMag_{}", OPTICAL)
_MAG_ERRS = _keys("petroMagErr_{}", OPTICAL)
_MIR = _keys("{}mpro", INFRARED)
_MIR_ERRS = _keys("{}sigmpro", INFRARED[:2])  # the study leaves out the W3 error
_MORPH = sum((_keys(q + "_{}", OPTICAL) for q in ("Sersic_n", "expAB", "petroR50", "petroR90")), ())

BASE_SETS = {
    "Mopt": InputSpec(main=_MAGS, add=("EBV",) + _MAG_ERRS),
    "MoptMir": InputSpec(main=_MAGS + _MIR, add=("EBV",) + _MAG_ERRS + _MIR_ERRS),
    "Mir": InputSpec(main=_MIR, add=_MIR_ERRS),
    "Morph": InputSpec(main=_MORPH),
    "Zspec": InputSpec(main=("z",)),
    "Iopt": InputSpec(bands=OPTICAL, add=("EBV",)),
    "Ioptnorm": InputSpec(bands=OPTICAL, norm=True, add=("EBV",)),
    "IoptMir": InputSpec(bands=OPTICAL, add=("EBV",) + _MIR + _MIR_ERRS),
    "IoptMirZspec": InputSpec(bands=OPTICAL, add=("EBV",) + _MIR + _MIR_ERRS + ("z",)),
}

_BAND_TOKEN = re.compile(r"w[123]|[ugriz]")


def key_band(key: str) -> str | None:
    """The band a catalogue key belongs to (petroMag_r -> r, w1mpro -> w1), None for EBV, z."""
    if key[:2] in INFRARED:
        return key[:2]
    head, _, tail = key.rpartition("_")
    return tail if head and tail in OPTICAL else None


def _parse_bands(text: str, name: str) -> tuple:
    tokens = _BAND_TOKEN.findall(text)
    if not tokens or "".join(tokens) != text:
        raise ValueError(f"{name!r}: cannot read bands {text!r} (use e.g. r, ugiz, zw1)")
    return tuple(tokens)


def _select_bands(spec: InputSpec, bands: tuple) -> InputSpec:
    def keep(keys):
        return tuple(k for k in keys if key_band(k) in (None, *bands))
    return replace(spec, bands=tuple(b for b in spec.bands if b in bands),
                   main=keep(spec.main), add=keep(spec.add))


def _dedupe(keys, exclude=()):
    return tuple(k for i, k in enumerate(keys) if k not in keys[:i] and k not in exclude)


def _union(a: InputSpec, b: InputSpec) -> InputSpec:
    if a.is_image and b.is_image:
        if a.norm != b.norm:
            raise ValueError("a union of image sets must use the same normalisation")
        bands = tuple(x for x in OPTICAL if x in a.bands + b.bands)
        return InputSpec(bands=bands, norm=a.norm, add=_dedupe(a.add + b.add))
    if b.is_image:
        a, b = b, a
    if a.is_image:  # images stay the main input; the photometric set joins the additional one
        return replace(a, add=_dedupe(a.add + b.main + b.add))
    main = _dedupe(a.main + b.main)
    return InputSpec(main=main, add=_dedupe(a.add + b.add, exclude=main))


def parse_input_set(name: str) -> InputSpec:
    """InputSpec of a set name such as 'Mopt', 'Iopt_r' or 'Mopt+Ioptnorm'."""
    spec = None
    for part in name.split("+"):
        base, _, bands = part.partition("_")
        if base not in BASE_SETS:
            raise ValueError(f"unknown input set {base!r} in {name!r}; known: {sorted(BASE_SETS)}")
        one = BASE_SETS[base]
        if bands:
            one = _select_bands(one, _parse_bands(bands, name))
            if not (one.bands or one.main):
                raise ValueError(f"{name!r}: band selection {bands!r} leaves no main input")
        spec = one if spec is None else _union(spec, one)
    return spec


def sign_log(x: np.ndarray) -> np.ndarray:
    """sign(x)·log(1 + |x|): compresses the flux range while keeping negative sky noise."""
    return np.sign(x) * np.log1p(np.abs(x))


def _training_rows(catalog_df, train):
    if train is not None:
        return np.asarray(train, dtype=bool)
    if "split" in catalog_df.columns:
        return (catalog_df["split"] == "train").to_numpy()
    return np.ones(len(catalog_df), dtype=bool)


def fit_input_stats(name: str, catalog_df, train=None, p_lo: float = 0.1, p_hi: float = 100.0) -> dict:
    """Statistics of the training rows that `dataset_inputs` applies to every galaxy.

    Per scalar key: `fill` (median of the non-null training values, which replaces nulls),
    `mean` and `std` (after filling; a constant column keeps std 1). For Ioptnorm: `flux_clip`,
    the [p_lo, p_hi] percentiles of each band's training petroFlux (the study clips at
    0.1 % / 100 %, 2 % for u). `train` is a boolean row mask (default: split == "train").
    """
    spec = parse_input_set(name)
    rows = _training_rows(catalog_df, train)
    stats = {"name": name, "fill": {}, "mean": {}, "std": {}, "flux_clip": {}}
    for key in spec.main + spec.add:
        stats["fill"][key], column = _fill_column(catalog_df, key, rows)
        std = float(column[rows].std())
        stats["mean"][key] = float(column[rows].mean())
        stats["std"][key] = std if std > 0 else 1.0
    if spec.norm:
        for band in spec.bands:
            key = f"petroFlux_{band}"
            stats["fill"][key], flux = _fill_column(catalog_df, key, rows)
            lo, hi = np.percentile(flux[rows], [p_lo, p_hi])
            if lo <= 0:
                raise ValueError(f"{key}: the {p_lo} percentile is {lo:.3g} <= 0; raise p_lo")
            stats["flux_clip"][band] = [float(lo), float(hi)]
    return stats


def _fill_column(catalog_df, key, rows):
    """Median of the training rows' non-null values, and the column with nulls replaced by it."""
    if key not in catalog_df.columns:
        raise KeyError(f"catalogue has no column {key!r}")
    column = catalog_df[key].to_numpy(dtype=np.float64)
    null = is_null(column)
    if not (rows & ~null).any():
        raise ValueError(f"{key}: no non-null value in the training rows")
    fill = float(np.median(column[rows & ~null]))
    return fill, np.where(null, fill, column)


def _standardised(catalog_df, keys, stats):
    columns = []
    for key in keys:
        column = catalog_df[key].to_numpy(dtype=np.float64)
        column = np.where(is_null(column), stats["fill"][key], column)
        columns.append((column - stats["mean"][key]) / stats["std"][key])
    return np.stack(columns, 1).astype(np.float32) if columns else np.zeros((len(catalog_df), 0), np.float32)


def _image_input(catalog_df, images, spec, stats):
    if images is None:
        raise ValueError(f"input set {stats['name']!r} needs the images array")
    rows = catalog_df["row"].to_numpy() if "row" in catalog_df.columns else slice(None)
    channels = [OPTICAL.index(b) for b in spec.bands]
    x = np.asarray(images[rows], dtype=np.float32)[..., channels]
    if spec.norm:
        for c, band in enumerate(spec.bands):
            flux = catalog_df[f"petroFlux_{band}"].to_numpy(dtype=np.float64)
            flux = np.where(is_null(flux), stats["fill"][f"petroFlux_{band}"], flux)
            flux = np.clip(flux, *stats["flux_clip"][band])
            x[..., c] /= flux[:, None, None].astype(np.float32)
    return sign_log(x).astype(np.float32)


def dataset_inputs(name: str, catalog_df, images=None, stats: dict | None = None, train=None,
                   p_lo: float = 0.1, p_hi: float = 100.0):
    """(main, additional) float32 arrays of input set `name` for every row of `catalog_df`.

    main: images [n, H, W, bands] rescaled by sign(x)·log(1+|x|) for image sets, else the
    standardised main keys [n, k]; additional: standardised keys [n, a] (a may be 0).
    Nulls (|v| >= 9000 or NaN) become the training median and nothing else is added.
    `images` is the full images.npy array (ugriz), indexed by the catalogue's `row` column.
    `stats` from `fit_input_stats` (computed here from the training rows when None); pass the
    same dict at inference so new galaxies are scaled like the training set.
    """
    spec = parse_input_set(name)
    if stats is None:
        stats = fit_input_stats(name, catalog_df, train=train, p_lo=p_lo, p_hi=p_hi)
    elif stats["name"] != name:
        raise ValueError(f"statistics of {stats['name']!r} cannot scale input set {name!r}")
    if spec.is_image:
        main = _image_input(catalog_df, images, spec, stats)
    else:
        main = _standardised(catalog_df, spec.main, stats)
    return main, _standardised(catalog_df, spec.add, stats)


# --------------------------------------------------------------------------- labels

def one_hot(index, bins: int) -> np.ndarray:
    out = np.zeros((len(index), bins), dtype=np.float32)
    out[np.arange(len(index)), index] = 1.0
    return out


# --------------------------------------------------------------------------- networks

def _scaled(filters: int, width: float) -> int:
    return max(1, int(round(filters * width)))


# He initialisation for the ReLU layers of the image network. With Keras' default Glorot kernels
# each ReLU convolution halves the signal's variance, and through the ~15 convolutions and the
# average pools of the Inception net the latent came out constant (std 1.5e-4 over galaxies whose
# input std is 0.14): the estimator saw nothing and the cross-entropy stayed at the prior.
RELU_INIT = "he_normal"


def _conv(x, filters, kernel, activation="relu", padding="same", kernel_initializer=None, dtype=None):
    init = kernel_initializer or (RELU_INIT if activation == "relu" else "glorot_uniform")
    return keras.layers.Conv2D(filters, kernel, padding=padding, activation=activation, kernel_initializer=init,
                               dtype=dtype)(x)


def _inception(x, kernels: int):
    """Treyer-style block: 1×1→5×5, 1×1→3×3, 1×1→avg-pool and a 1×1 shortcut, concatenated."""
    reduced = max(1, int(kernels * REDUCE_RATIO))
    a = _conv(_conv(x, reduced, 1), kernels, 5)
    b = _conv(_conv(x, reduced, 1), kernels, 3)
    c = keras.layers.AveragePooling2D(2, strides=1, padding="same")(_conv(x, reduced, 1))
    d = _conv(x, max(1, int(kernels * SHORTCUT_RATIO)), 1)
    return keras.layers.Concatenate()([a, b, c, d])


def image_encoder(shape, n_add, latent_dim, width=1.0, name="encoder"):
    """Inception CNN; the additional inputs shift every channel of the first convolution."""
    conv, inc = _scaled(TREYER_CONV, width), _scaled(TREYER_INCEPTION, width)
    image, add = keras.Input(shape), keras.Input((n_add,))
    x = _conv(image, conv, 5, activation=None, kernel_initializer=RELU_INIT)  # ReLU follows the shift
    if n_add:
        shift = keras.layers.Dense(conv)(add)
        x = x + keras.layers.Reshape((1, 1, conv))(shift)
    x = keras.layers.ReLU()(x)
    x = keras.layers.AveragePooling2D(2)(_conv(x, conv, 3, activation="tanh"))
    for blocks in (3, 2):
        for _ in range(blocks):
            x = _inception(x, inc)
        x = keras.layers.AveragePooling2D(2)(x)
    x = _inception(x, inc)
    for _ in range(3):
        x = _conv(x, conv, 3, padding="valid")
    x = keras.layers.AveragePooling2D(2, strides=1)(x)
    x = keras.layers.Dense(_scaled(TREYER_DENSE, width), activation="relu", kernel_initializer=RELU_INIT)(
        keras.layers.Flatten()(x))
    return keras.Model([image, add], keras.layers.Dense(latent_dim, dtype=OUTPUT_DTYPE)(x), name=name)


def image_decoder(latent_dim, shape, width=1.0, filters=32, name="decoder"):
    """Dense → (H/8)×(W/8) feature map → three bilinear ×2 upsamplings → H×W×C.

    At width 1 and 64 px the dense layer has 1024 units, reshaped to 8×8×16 as in the study.
    """
    rows, cols, channels = shape
    if rows % 8 or cols % 8:
        raise ValueError(f"image size {rows}×{cols} must be a multiple of 8")
    depth = _scaled(TREYER_DENSE // 64, width)
    filters = _scaled(filters, width)
    latent = keras.Input((latent_dim,))
    x = keras.layers.Dense(rows // 8 * (cols // 8) * depth, activation="leaky_relu")(latent)
    x = keras.layers.Reshape((rows // 8, cols // 8, depth))(x)
    for _ in range(3):
        x = _conv(_conv(x, filters, 3, "leaky_relu"), filters, 3, "leaky_relu")
        x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = _conv(x, filters, 3, "leaky_relu")
    return keras.Model(latent, _conv(x, channels, 3, activation=None, dtype=OUTPUT_DTYPE), name=name)


def dense_encoder(n_main, n_add, latent_dim, n_layers=20, units=128, name="encoder"):
    main, add = keras.Input((n_main,)), keras.Input((n_add,))
    x = keras.layers.Concatenate()([main, add]) if n_add else main
    for _ in range(n_layers):
        x = keras.layers.Dense(units, activation="leaky_relu")(x)
    return keras.Model([main, add], keras.layers.Dense(latent_dim, dtype=OUTPUT_DTYPE)(x), name=name)


def dense_decoder(latent_dim, n_main, n_layers=19, units=128, name="decoder"):
    latent = keras.Input((latent_dim,))
    x = latent
    for _ in range(n_layers):
        x = keras.layers.Dense(units, activation="leaky_relu")(x)
    return keras.Model(latent, keras.layers.Dense(n_main, dtype=OUTPUT_DTYPE)(x), name=name)


def estimator(m, bins, units, activation, name="estimator"):
    latent = keras.Input((m,))
    hidden = keras.layers.Dense(units, activation=activation)(latent)
    return keras.Model(latent, keras.layers.Dense(bins, dtype=OUTPUT_DTYPE)(hidden), name=name)


def random_dihedral(x, seed, allow_identity=True, rows=None):
    """Per-galaxy random element of the 8 rotations/flips of a square image batch.

    Three random bits pick transpose, vertical and horizontal flips, which together give every
    90° rotation with or without a flip; `allow_identity=False` always changes the image.
    `rows` (under a strategy, `replica_rows`): where this replica's galaxies sit in the global
    batch; every replica draws the global batch's codes and takes its own, so the replicas do
    not repeat each other's draws and the galaxies get the codes they get on one device.
    """
    if rows is None:
        code = keras.random.randint((tf.shape(x)[0],), 0 if allow_identity else 1, 8, seed=seed)
    else:
        every = keras.random.randint((tf.shape(x)[0] * replicas(),), 0 if allow_identity else 1, 8, seed=seed)
        code = tf.gather(every, rows)
    ops = ((1, lambda t: tf.transpose(t, [0, 2, 1, 3])),
           (2, lambda t: tf.reverse(t, [1])),
           (4, lambda t: tf.reverse(t, [2])))
    for bit, op in ops:
        chosen = tf.reshape(tf.bitwise.bitwise_and(code, bit) > 0, [-1, 1, 1, 1])
        x = tf.where(chosen, op(x), x)
    return x


def replica_rows(n_local, pairs):
    """Rows of the global batch held by this replica (None on one device): consecutive slices,
    or for SCL pairs its A_r and B_r slices of the global A and B (train_dataset's layout)."""
    if replicas() == 1:
        return None
    r = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32)
    if not pairs:
        return r * n_local + tf.range(n_local)
    half = n_local // 2
    return tf.concat([r * half + tf.range(half), replicas() * half + r * half + tf.range(half)], 0)


def _ce_per_galaxy(y, logits):
    return keras.losses.categorical_crossentropy(y, logits, from_logits=True)


def _cross_entropy(y, logits):
    return tf.reduce_mean(_ce_per_galaxy(y, logits))


def _y_contrast_per_galaxy(logits_a, logits_b):
    """Symmetric CE: each pass learns from the other's (frozen) predicted distribution."""
    p_a = tf.stop_gradient(tf.nn.softmax(logits_a))
    p_b = tf.stop_gradient(tf.nn.softmax(logits_b))
    return _ce_per_galaxy(p_a, logits_b) + _ce_per_galaxy(p_b, logits_a)


def _mse_per_galaxy(x, recon):
    return tf.reduce_mean(tf.reshape(tf.square(x - recon), [tf.shape(x)[0], -1]), axis=1)


def _rms(a, b):
    return tf.sqrt(tf.reduce_mean(tf.square(a - b), axis=1))


@keras.saving.register_keras_serializable(package="galaxy_xai")
class SCLModel(keras.Model):
    """Encoder → latent [main m | extra e] → decoder (reconstruction) and estimator (p(y) bins).

    SCL (`mi_only=False`): `fit` on `train_dataset(..., pairs=True)`; each batch of 2·B galaxies
    is split into the disjoint mini-batches A and B. MI estimator (`mi_only=True`): encoder +
    estimator only, e = 0, cross-entropy loss. Photometry uses `n_layers` dense layers of
    `units`; images the Treyer Inception net with every filter count scaled by `width`.
    m, e, coeff_recon default to the study's values (photometry 8, 8, 1; images 16, 512, 100).

    Precision and distribution (train.precision, train.distribute; build and compile inside
    `galaxy_xai.models.training.strategy_scope`): the latent, the reconstruction and the logits come
    out of float32 layers (`OUTPUT_DTYPE`), so every loss is computed in float32; `compile` wraps
    the optimiser in a LossScaleOptimizer under mixed_float16 and `train_step` scales the loss
    through `training.scaled_loss`. Under a strategy Keras' `fit` runs `train_step` on every
    replica with its shard of the global batch (global batch / replicas galaxies) and sums the
    replicas' gradients; see `scl_losses` for where the contrastive pairs are formed.
    """

    def __init__(self, main_shape, n_additional, bins=520, y_min=6.0, y_max=12.5, m=None, e=None,
                 coeff_recon=None, n_layers=20, units=128, width=1.0, mi_only=False,
                 augment=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.main_shape, self.n_additional = tuple(main_shape), int(n_additional)
        self.is_image = len(self.main_shape) == 3
        self.bins, self.y_min, self.y_max = bins, y_min, y_max
        if e is None:  # the MI estimator needs no extra latent: it has no decoder
            e = 0 if mi_only else (512 if self.is_image else 8)
        if coeff_recon is None:
            coeff_recon = 100.0 if self.is_image else 1.0
        self.m, self.e, self.coeff_recon = m or (16 if self.is_image else 8), e, coeff_recon
        self.n_layers, self.units, self.width = n_layers, units, width
        self.mi_only, self.augment, self.seed = mi_only, augment, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The sub-networks take the model's own dtype policy (saved in its config), so a model
        # trained under mixed precision is rebuilt with it on loading, whatever the global policy.
        before = keras.mixed_precision.global_policy().name
        if self.dtype_policy.name != before:
            keras.mixed_precision.set_global_policy(self.dtype_policy.name)
        try:
            self._build_networks()
        finally:
            keras.mixed_precision.set_global_policy(before)
        names = ("loss", "ce") if mi_only else ("loss", "ce", "recon", "ycontrast", "lcontrast")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True  # every weight exists once the functional sub-networks are made

    def _build_networks(self):
        latent = self.m + self.e
        if self.is_image:
            self.encoder = image_encoder(self.main_shape, self.n_additional, latent, self.width)
            self.decoder = None if self.mi_only else image_decoder(latent, self.main_shape, self.width)
            self.estimator = estimator(self.m, self.bins, _scaled(TREYER_DENSE, self.width), "relu")
        else:
            n_main = self.main_shape[0]
            self.encoder = dense_encoder(n_main, self.n_additional, latent, self.n_layers, self.units)
            self.decoder = None if self.mi_only else dense_decoder(latent, n_main, self.n_layers - 1, self.units)
            self.estimator = estimator(self.m, self.bins, self.units, "leaky_relu")

    @property
    def metrics(self):
        return list(self.trackers.values())

    def get_config(self):
        return {**super().get_config(), "main_shape": self.main_shape, "n_additional": self.n_additional,
                "bins": self.bins, "y_min": self.y_min, "y_max": self.y_max, "m": self.m, "e": self.e,
                "coeff_recon": self.coeff_recon, "n_layers": self.n_layers, "units": self.units,
                "width": self.width, "mi_only": self.mi_only, "augment": self.augment, "seed": self.seed}

    def forward(self, main, additional, training=False, decode=True):
        """(main latent, reconstruction or None, logits) of one pass; decode=False skips the
        decoder where only the estimate is needed (validation, inference)."""
        latent = self.encoder([main, additional], training=training)
        recon = None if self.decoder is None or not decode else self.decoder(latent, training=training)
        z = latent[:, : self.m]
        return z, recon, self.estimator(z, training=training)

    def call(self, inputs, training=False):
        main, additional = inputs
        return self.forward(main, additional, training, decode=False)[2]

    def _augment(self, x, pairs=False):
        """Random rotation/flip of training images (they do not change a galaxy's mass)."""
        if not (self.is_image and self.augment):
            return x
        return random_dihedral(x, self.seed_generator, rows=replica_rows(tf.shape(x)[0], pairs))

    def scl_losses(self, main, additional, y):
        """Loss terms of one SCL step on 2·B galaxies: the first half is A, the second B.

        Every term is summed over A and B as in the study. Galaxies are processed independently
        (no batch statistics), so each pass runs on A and B together, which is faster than two
        half-size passes and gives the same numbers.

        Under a tf.distribute strategy with N replicas, `main` is this replica's shard. The
        contrastive pairs are formed per replica: galaxy i of its A half with galaxy i of its B
        half, and the positives (the same galaxy's second pass / rotated copy) are on the same
        replica by construction. `train_dataset(..., replicas=N)` lays each global batch out so
        that replica r holds rows r·B/N.. of A and of B: the pairs are exactly the one-device
        pairs. The per-galaxy terms are this replica's means; `scaled_loss` divides them by N
        and the summed gradients are those of the global-batch means. The latent contrast is not
        a per-galaxy mean (softplus of a difference of batch means), so its two distances are
        averaged over every replica (an all-reduce, which has a gradient) before the softplus:
        the effective batch of every term is the global batch, the same loss as on one device.
        The random rotations of image sets are drawn for the global batch and each replica takes
        its galaxies' codes (`replica_rows`), as on one device. Needs equal shards: the global
        batch a multiple of N (train_dataset drops remainders).
        """
        half = tf.shape(main)[0] // 2

        def over_halves(per_galaxy):  # mean over A + mean over B
            return tf.reduce_mean(per_galaxy[:half]) + tf.reduce_mean(per_galaxy[half:])

        def over_replicas(value):  # global-batch mean of a per-replica mean (equal shards)
            if replicas() == 1:
                return value
            return tf.distribute.get_replica_context().all_reduce("MEAN", value)

        x = self._augment(main, pairs=True)
        z1, r1, l1 = self.forward(x, additional, training=True)
        z2, r2, l2 = self.forward(r1, additional, training=True)  # pass 2 on the reconstruction
        ce = _ce_per_galaxy(y, l1) + _ce_per_galaxy(y, l2)
        recon = _mse_per_galaxy(x, r1) + _mse_per_galaxy(x, r2)
        ycontrast = _y_contrast_per_galaxy(l1, l2)
        same = [_rms(z1, z2)]
        if self.is_image:
            rows = replica_rows(tf.shape(x)[0], pairs=True)
            x_aug = random_dihedral(x, self.seed_generator, allow_identity=False, rows=rows)
            za, ra, la = self.forward(x_aug, additional, training=True)
            recon += _mse_per_galaxy(x_aug, ra)
            ycontrast += _y_contrast_per_galaxy(l1, la)
            same.append(_rms(z1, za))
        # −log(P / (P + N)) with P = exp(−d_same), N = exp(−d_other) equals softplus(d_same − d_other)
        d_same = over_replicas(tf.reduce_mean(tf.concat(same, 0)))
        d_other = over_replicas(tf.reduce_mean(_rms(z1[:half], z1[half:])))
        losses = {"ce": over_halves(ce), "recon": over_halves(recon),
                  "ycontrast": over_halves(ycontrast), "lcontrast": tf.nn.softplus(d_same - d_other)}
        # "recon" is reported unweighted; the total weights it by coeff_recon
        losses["loss"] = (losses["ce"] + self.coeff_recon * losses["recon"]
                          + losses["ycontrast"] + losses["lcontrast"])
        return losses

    def train_step(self, data):
        (main, additional), y = data
        with tf.GradientTape() as tape:
            if self.mi_only:
                ce = _cross_entropy(y, self.call((self._augment(main), additional), training=True))
                losses = {"loss": ce, "ce": ce}
            else:
                losses = self.scl_losses(main, additional, y)
            # this replica's mean / replicas, times the float16 loss scale (identity by default);
            # optimizer.apply unscales and sums the replicas' gradients
            scaled = scaled_loss(self.optimizer, losses["loss"])
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        # each replica reports its shard's means; Keras averages the replicas' logs (equal shards)
        return self._report(losses)

    def test_step(self, data):
        """Validation: cross-entropy of pass 1 (the quantity used downstream)."""
        (main, additional), y = data
        ce = _cross_entropy(y, self.call((main, additional)))
        return self._report({"loss": ce, "ce": ce})

    def _report(self, losses):
        for name, value in losses.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in losses}

    def predict_step(self, data):
        main, additional = data[0] if isinstance(data[0], (tuple, list)) else data
        z, _, logits = self.forward(main, additional, decode=False)
        return {"latent": z, "p": tf.nn.softmax(logits)}


def scl_lr_schedule(iterations: int, learning_rate: float = 1e-4, drop_fraction: float = 1 / 3,
                    drop_factor: float = 5.0):
    """The study's rate: `learning_rate`, divided by `drop_factor` after `drop_fraction` of training."""
    boundary = max(1, int(iterations * drop_fraction))
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [boundary], [learning_rate, learning_rate / drop_factor])


def scl_optimizer(iterations: int, learning_rate: float = 1e-4, drop_fraction: float = 1 / 3,
                  drop_factor: float = 5.0) -> keras.optimizers.Optimizer:
    """Adam on `scl_lr_schedule` (the schedule counts optimizer iterations, i.e. train steps)."""
    return keras.optimizers.Adam(scl_lr_schedule(iterations, learning_rate, drop_fraction, drop_factor))


def train_dataset(main, additional, y, edges, batch_size, pairs=True, seed=None, replicas=1) -> tf.data.Dataset:
    """Endless shuffled batches of ((main, additional), one-hot y).

    pairs=True (SCL): batches of 2·batch_size distinct galaxies, split by the model into A and B.
    Batching inside each shuffled epoch (then repeating) guarantees no galaxy is drawn twice
    in one step; the incomplete last batch of every epoch is dropped.

    batch_size is global. `replicas` > 1 (a tf.distribute strategy, which gives replica r the
    r-th consecutive slice of each batch): batch_size must be a multiple of it, and a pairs batch
    [A; B] is reordered to [A_0; B_0; A_1; B_1; …], A_r = rows r·B/N … (r+1)·B/N of A, so that
    every replica splits its slice into the same A/B pairs as one device (SCLModel.scl_losses).
    With replicas = 1 the batches are unchanged.
    """
    size = 2 * batch_size if pairs else batch_size
    if len(main) < size:
        raise ValueError(f"{len(main)} galaxies cannot fill a batch of {size}")
    if batch_size % replicas:
        raise ValueError(f"a batch of {batch_size} galaxies cannot be split evenly over {replicas} replicas")
    bins = len(edges) - 1
    labels = to_bin(y, edges)
    if replicas == 1:
        ds = tf.data.Dataset.from_tensor_slices((main, additional, labels))
        ds = ds.shuffle(len(main), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(size, drop_remainder=True).repeat()
    else:
        # Under a strategy Keras and tf.data make a varying number of iterators of the dataset
        # before training reads it, and a reshuffling dataset gives each new iterator the next
        # order: the batches would change from run to run. Here epoch e has its own seeded order,
        # the same for every iterator: a rerun sees the same batches (not those of one device).
        first = tf.constant(0 if seed is None else int(seed), tf.int64)

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(tf.range(len(main), dtype=tf.int64),
                                                             tf.stack([first, epoch]))
            return tf.data.Dataset.from_tensor_slices(order).batch(size, drop_remainder=True)
        galaxies = (tf.constant(main), tf.constant(additional), tf.constant(labels))
        ds = tf.data.Dataset.counter().flat_map(epoch_batches).map(
            lambda rows: tuple(tf.gather(t, rows) for t in galaxies))
    if pairs and replicas > 1:
        def per_replica_pairs(t):  # [2, N, B/N, ...] -> [N, 2, B/N, ...] -> [2B, ...]
            shape = tf.shape(t)
            t = tf.reshape(t, tf.concat([[2, replicas, batch_size // replicas], shape[1:]], 0))
            t = tf.transpose(t, tf.concat([[1, 0], tf.range(2, tf.rank(t))], 0))
            return tf.reshape(t, shape)
        ds = ds.map(lambda x, a, k: tuple(per_replica_pairs(t) for t in (x, a, k)))
    ds = ds.map(lambda x, a, k: ((x, a), tf.one_hot(k, bins)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(main, additional, y, edges, batch_size) -> tf.data.Dataset:
    """Ordered batches of ((main, additional), one-hot y) for validation."""
    labels = tf.one_hot(to_bin(y, edges), len(edges) - 1)
    return tf.data.Dataset.from_tensor_slices(((main, additional), labels)).batch(batch_size)


# --------------------------------------------------------------------------- inference

def point_estimates(p: np.ndarray, edges: np.ndarray) -> dict:
    """Mean, mode and median of binned densities p [n, bins], as bin centres in y."""
    centres = bin_centres(edges)
    cdf = np.cumsum(p, axis=1)
    median_bin = np.minimum((cdf < 0.5 * cdf[:, -1:]).sum(axis=1), len(centres) - 1)
    return {"mean": p @ centres / p.sum(axis=1),
            "mode": centres[np.argmax(p, axis=1)],
            "median": centres[median_bin]}


def infer(model: SCLModel, main, additional, batch_size: int = 512) -> dict:
    """Main latent [n, m], p(y) [n, bins] and the mean / mode / median estimates."""
    ds = tf.data.Dataset.from_tensor_slices((main, additional)).batch(batch_size)
    out = model.predict(ds, verbose=0)
    p = np.asarray(out["p"], dtype=np.float64)
    edges = bin_edges(model.bins, model.y_min, model.y_max)
    return {"latent": np.asarray(out["latent"]), "p": p.astype(np.float32), **point_estimates(p, edges)}


def per_galaxy_cross_entropy(p, y, edges, tiny: float = 1e-20) -> np.ndarray:
    """−log p(true bin) per galaxy; p is clipped at `tiny` so an empty bin stays finite."""
    p = np.asarray(p)
    return -np.log(np.maximum(p[np.arange(len(p)), to_bin(y, edges)], tiny))


def photoz_style_metrics(y_true, y_est, p=None, edges=None) -> dict:
    """bias, σ_MAD, outlier fraction η (|Δ| > 3σ_MAD) and, given p and edges, the CRPS."""
    delta = np.asarray(y_est, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    sigma_mad = 1.4826 * np.median(np.abs(delta - np.median(delta)))
    out = {"n": int(delta.size), "bias": float(delta.mean()), "sigma_mad": float(sigma_mad),
           "eta": float(np.mean(np.abs(delta) > 3 * sigma_mad))}
    if p is not None:
        if edges is None:
            raise ValueError("CRPS needs the bin edges")
        p = np.asarray(p, dtype=np.float64)
        cdf_true = np.cumsum(one_hot(to_bin(y_true, edges), p.shape[1]), axis=1)
        widths = np.diff(edges)
        out["crps"] = float(np.mean(np.sum((np.cumsum(p, axis=1) - cdf_true) ** 2 * widths, axis=1)))
    return out
