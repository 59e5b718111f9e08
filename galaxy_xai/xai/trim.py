"""TRIM: importance of radial Fourier bands for a trained image model (SPEC §8).

The model f works on images x; TRIM re-parametrises it as f' = f ∘ FFT⁻¹ and scores each radial
band of the Fourier coefficients s = FFT2(x). Bands are annuli of the unshifted FFT plane (the
layout of tf.signal.fft2d); every mask is symmetric under k → −k, so the band component
x_b = real(IFFT2(s·M_b)) of a real image is itself real and the components add up to x.

Methods (all scores are per image and band, in units of the selected model output):
  knockout                   f(x) − f(x − x_b)
  integrated_gradients       IG along s_α = s·(1 − M_b) + α·s·M_b (baseline = band removed)
  integrated_gradients_zero  IG along s_α = α·s (zero baseline), summed over each band
  gradient_x_input           ∇f(x)·x_b, the first-order term
  cd                         contextual decomposition (galaxy_xai.xai.cd) with relevant = x_b and
                             irrelevant = x − x_b: the part of the output's pre-activation z(x)
                             (the logit of a sigmoid output; a linear output itself) due to band b.
                             Units of z, not of f; the paper's TRIM method.

Derivation of the Fourier-space IG. Treat the real and imaginary parts of s as the inputs of f'.
On a straight path s_α = s' + α(s − s') the IG of coordinate k is (s_k − s'_k) ∫ ∂f'/∂s_k dα.
Summed over the coordinates of band b this is ∫ Σ_k (s_k − s'_k) ∂f'/∂s_k dα; when s − s' lives in
band b only (band-removed baseline) that sum is the full derivative d f'(s_α)/dα. Because x is
linear in s, x_α = x − x_b + α·x_b and d f'(s_α)/dα = ∇f(x_α)·x_b, so

    IG_b = ∫₀¹ ∇f(x − (1 − α)·x_b)·x_b dα  =  f(x) − f(x − x_b)     (completeness per band),

i.e. with this baseline IG is a quadrature of the knockout score. With the zero baseline the path
is x_α = α·x for every band and IG_b = ∫ ∇f(α·x)·x_b dα; the bands then share one path and
Σ_b IG_b = f(x) − f(0). Integrals use the midpoint rule over `steps` values of α.
"""
from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from galaxy_xai.domain import TRIM_METHODS
from galaxy_xai.errors import TrainingError
from galaxy_xai.models.training import StopOnNonFinite
from galaxy_xai.xai import cd


# ----------------------------------------------------------------------------- bands and FFT
def radial_band_masks(height: int, width: int, n_bands: int) -> np.ndarray:
    """Binary annuli [n_bands, height, width] that cover the unshifted FFT plane exactly once.

    Edges are evenly spaced in radial frequency from 0 to the largest radius (a corner), so the
    DC term is in band 0 and the corner in the last band. |fftfreq| is symmetric under k → −k
    (the Nyquist row maps onto itself), hence so is every mask.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    band = np.minimum((radius / radius.max() * n_bands).astype(int), n_bands - 1)
    return (band[None] == np.arange(n_bands)[:, None, None]).astype(np.float32)


def _fft_nchw(images) -> tf.Tensor:
    """FFT2 over H, W of NHWC images, returned as complex [N, C, H, W]."""
    x = tf.transpose(tf.convert_to_tensor(images, tf.float32), [0, 3, 1, 2])
    return tf.signal.fft2d(tf.complex(x, tf.zeros_like(x)))


def _filtered(images, keep_mask) -> tf.Tensor:
    """Complex IFFT2(FFT2(x)·mask) as NHWC; mask is [H, W] or [N, H, W]."""
    mask = tf.convert_to_tensor(keep_mask, tf.float32)
    mask = mask[:, None] if mask.shape.rank == 3 else mask  # broadcast over channels
    s = _fft_nchw(images) * tf.complex(mask, tf.zeros_like(mask))
    return tf.transpose(tf.signal.ifft2d(s), [0, 2, 3, 1])


def remove_bands(images, keep_mask) -> tf.Tensor:
    """real(IFFT2(FFT2(x)·keep_mask)) per channel, NHWC float32 (keep_mask [H, W] or [N, H, W])."""
    return tf.math.real(_filtered(images, keep_mask))


def imag_residue(images, keep_mask) -> float:
    """max |imag(IFFT2(FFT2(x)·keep_mask))|: ~0 when the mask is k → −k symmetric."""
    return float(tf.reduce_max(tf.abs(tf.math.imag(_filtered(images, keep_mask)))))


def band_components(images, masks) -> tf.Tensor:
    """x_b = real(IFFT2(FFT2(x)·M_b)) for every band: [N, n_bands, H, W, C]; Σ_b x_b = x."""
    s = _fft_nchw(images)[:, None]  # [N, 1, C, H, W]
    m = tf.convert_to_tensor(masks, tf.float32)[None, :, None]  # [1, B, 1, H, W]
    parts = tf.math.real(tf.signal.ifft2d(s * tf.complex(m, tf.zeros_like(m))))
    return tf.transpose(parts, [0, 1, 3, 4, 2])


# ----------------------------------------------------------------------------- model access
def _select(outputs, output_index: int) -> tf.Tensor:
    """One output unit per row, whatever the model's output rank."""
    outputs = tf.reshape(outputs, [tf.shape(outputs)[0], -1])
    return outputs[:, output_index]


class ModelOutput:
    """f(x) and ∇f(x) of one output unit of a model, batched, as graph functions.

    Rows are independent at inference time, so the gradient of the batch sum is per image.
    Graph mode runs these 2.2-2.4x faster than eager calls on this CPU (bench/trim.py); one
    instance per model and output keeps the trace for every chunk of a run.
    """

    def __init__(self, model, output_index: int):
        self.model, self.output_index = model, output_index

        @tf.function(reduce_retracing=True)
        def value(x):
            return _select(model(x, training=False), output_index)

        @tf.function(reduce_retracing=True)
        def gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = value(x)
            return tape.gradient(y, x)

        self._value, self._gradient = value, gradient

    def _batched(self, fn, images, batch_size) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        return tf.concat([fn(images[i:i + batch_size]) for i in range(0, int(images.shape[0]), batch_size)], 0)

    def predict(self, images, batch_size: int = 64) -> np.ndarray:
        """f(x) for the selected output unit: [N]."""
        return self._batched(self._value, images, batch_size).numpy()

    def gradients(self, images, batch_size: int = 64) -> tf.Tensor:
        """∇f(x) for each image: [N, H, W, C]."""
        return self._batched(self._gradient, images, batch_size)


def model_output(model, output_index: int) -> ModelOutput:
    """`model` itself when it is a ModelOutput already (its traces are reused), else a new one."""
    return model if isinstance(model, ModelOutput) else ModelOutput(model, output_index)


def predict_output(model, images, output_index: int, batch_size: int = 64) -> np.ndarray:
    """f(x) for the selected output unit, batched: [N]. `model`: a Keras model or a ModelOutput."""
    return model_output(model, output_index).predict(images, batch_size)


def _midpoints(steps: int) -> tf.Tensor:
    """α values of the midpoint rule on (0, 1): error O(1/steps²) for smooth paths."""
    return (tf.range(steps, dtype=tf.float32) + 0.5) / steps


# ----------------------------------------------------------------------------- band scores
def _ig_band_removed(f, x, parts, steps, batch_size):
    """IG_b = mean_α ∇f(x − (1−α)x_b)·x_b for a chunk: x [c, H, W, C], parts [c, B, H, W, C]."""
    c, n_bands = parts.shape[0], parts.shape[1]
    alpha = _midpoints(steps)[None, None, :, None, None, None]
    points = x[:, None, None] - (1.0 - alpha) * parts[:, :, None]  # [c, B, S, H, W, C]
    grads = f.gradients(tf.reshape(points, [-1, *x.shape[1:]]), batch_size)
    grads = tf.reshape(grads, [c, n_bands, steps, *x.shape[1:]])
    return tf.reduce_mean(tf.einsum("nbshwc,nbhwc->nbs", grads, parts), axis=2)


def _ig_zero(f, x, parts, steps, batch_size):
    """IG_b = mean_α ∇f(α·x)·x_b: one gradient per α, shared by all bands."""
    alpha = _midpoints(steps)[None, :, None, None, None]
    points = tf.reshape(alpha * x[:, None], [-1, *x.shape[1:]])  # [c·S, H, W, C]
    grads = f.gradients(points, batch_size)
    grads = tf.reduce_mean(tf.reshape(grads, [x.shape[0], steps, *x.shape[1:]]), axis=1)
    return tf.einsum("nhwc,nbhwc->nb", grads, parts)


def ig_zero_sum(model, images, output_index: int, masks, alphas, batch_size: int = 64) -> np.ndarray:
    """Σ_α ∇f(α·x)·x_b over the given α values: [n, n_bands]. Divided by the number of α values of a
    midpoint rule it is the zero-baseline IG; the midpoints of S steps are among those of 3S (α =
    (i + ½)/S = (3i + 1.5)/3S), so a refinement from S to 3S steps adds only the 2S new α values."""
    images = tf.convert_to_tensor(images, tf.float32)
    f = model_output(model, output_index)
    alphas = tf.convert_to_tensor(np.asarray(alphas, np.float32))
    chunk = max(1, batch_size // int(alphas.shape[0]))
    out = []
    for i in range(0, int(images.shape[0]), chunk):
        x = images[i:i + chunk]
        parts = band_components(x, masks)
        points = tf.reshape(alphas[None, :, None, None, None] * x[:, None], [-1, *x.shape[1:]])
        grads = tf.reduce_sum(tf.reshape(f.gradients(points, batch_size), [x.shape[0], -1, *x.shape[1:]]), axis=1)
        out.append(tf.einsum("nhwc,nbhwc->nb", grads, parts).numpy())
    return np.concatenate(out, 0)


def _knockout(f, x, parts, batch_size):
    """f(x) − f(x − x_b) for every band."""
    c, n_bands = parts.shape[0], parts.shape[1]
    removed = tf.reshape(x[:, None] - parts, [-1, *x.shape[1:]])
    f_removed = f.predict(removed, batch_size).reshape(c, n_bands)
    return f.predict(x, batch_size)[:, None] - f_removed


def cd_bands(f, x, parts, batch_size):
    """CD of every band: (rel, irrel) [c, B] of the selected output's pre-activation, with
    relevant = x_b and irrelevant = x − x_b; rel + irrel = z(x) for every band."""
    c, n_bands = parts.shape[0], parts.shape[1]
    relevant = tf.reshape(parts, [-1, *x.shape[1:]])
    irrelevant = tf.reshape(x[:, None] - parts, [-1, *x.shape[1:]])
    rel, irrel = cd.decomposer(f.model)(relevant, irrelevant, batch_size)
    select = lambda t: tf.reshape(t[:, f.output_index], [c, n_bands]).numpy()  # noqa: E731
    return select(rel), select(irrel)


def _gradient_x_input(f, x, parts, batch_size):
    """∇f(x)·x_b: the first-order Taylor term of each band."""
    return tf.einsum("nhwc,nbhwc->nb", f.gradients(x, batch_size), parts)


def band_importance(model, images, output_index: int, masks, method: str,
                    steps: int = 32, batch_size: int = 64) -> np.ndarray:
    """Raw TRIM scores [n_images, n_bands] of one model output (see the module docstring).

    `model`: a Keras model, or a ModelOutput of it to reuse one trace across calls.
    `steps` is the number of α values for the IG methods; `batch_size` caps the model batch.
    Images are processed in chunks sized so one chunk's path points fill about one batch.
    """
    if method not in TRIM_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {TRIM_METHODS}")
    images = tf.convert_to_tensor(images, tf.float32)
    n_bands = int(np.shape(masks)[0])
    per_image = {"integrated_gradients": n_bands * steps, "integrated_gradients_zero": steps,
                 "knockout": n_bands + 1, "gradient_x_input": 1, "cd": n_bands}[method]
    chunk = max(1, batch_size // per_image)
    f = model_output(model, output_index)
    scores = []
    for i in range(0, int(images.shape[0]), chunk):
        x = images[i:i + chunk]
        parts = band_components(x, masks)
        if method == "integrated_gradients":
            s = _ig_band_removed(f, x, parts, steps, batch_size)
        elif method == "integrated_gradients_zero":
            s = _ig_zero(f, x, parts, steps, batch_size)
        elif method == "knockout":
            s = _knockout(f, x, parts, batch_size)
        elif method == "cd":
            s = cd_bands(f, x, parts, batch_size)[0]
        else:
            s = _gradient_x_input(f, x, parts, batch_size)
        scores.append(np.asarray(s))
    return np.concatenate(scores, 0)


def normalise_by_prediction(scores, predictions) -> np.ndarray:
    """Scores divided by the image's prediction f(x), as in the paper's band curves."""
    return np.asarray(scores) / np.asarray(predictions)[:, None]


def mean_curve(scores) -> np.ndarray:
    """Mean importance of each band over images: [n_bands]."""
    return np.mean(np.asarray(scores), axis=0)


# ----------------------------------------------------------------------------- paper simulation
# Paper §4 / Table 1: features i.i.d. N(0, 1), a random frequency per dataset, label = that
# frequency's magnitude above its median, a 3-layer fully connected ReLU network; each method must
# give the band holding that frequency the highest importance. Every score is of the network's
# logit (its last layer is linear; training uses a sigmoid cross-entropy on it).
VALIDATE_METHODS = ("cd", "integrated_gradients", "gradient_x_input", "knockout", "deeplift", "shapley")


def frequency_bands(n_features: int, n_bands: int) -> np.ndarray:
    """Masks [n_bands, n_features // 2 + 1] over the rfft frequencies 0 … n/2: contiguous groups of
    (nearly) equal size; with n_features = 2 (n_bands − 1) each band is one frequency."""
    n_freq = n_features // 2 + 1
    if n_bands > n_freq:
        raise ValueError(f"{n_bands} bands need at least {2 * (n_bands - 1)} features, got {n_features}")
    band = np.concatenate([np.full(len(g), b) for b, g in enumerate(np.array_split(np.arange(n_freq), n_bands))])
    return (band[None] == np.arange(n_bands)[:, None]).astype(np.float32)


def frequency_parts(x, masks) -> np.ndarray:
    """x_b = irfft(rfft(x)·M_b) for every band: [n, n_bands, n_features]; Σ_b x_b = x."""
    x = np.asarray(x, np.float64)
    s = np.fft.rfft(x, axis=-1)[:, None] * masks[None]
    return np.fft.irfft(s, n=x.shape[-1], axis=-1).astype(np.float32)


def simulate_frequency_dataset(n: int, n_features: int, frequency: int, rng):
    """x [n, n_features] i.i.d. N(0, 1); label 1 where |rfft(x)[frequency]| exceeds its median."""
    x = rng.standard_normal((n, n_features)).astype(np.float32)
    magnitude = np.abs(np.fft.rfft(x, axis=-1)[:, frequency])
    return x, (magnitude > np.median(magnitude)).astype(np.float32)


def train_frequency_classifier(x, y, hidden: int, epochs: int, seed: int, batch_size: int = 64,
                               learning_rate: float = 3e-3) -> keras.Model:
    """Dense(hidden, ReLU) → Dense(hidden, ReLU) → Dense(1) logit, Adam on the sigmoid cross-entropy."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(learning_rate), keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[StopOnNonFinite("frequency classifier")])
    return model


def train_frequency_classifiers(x, y, hidden: int, epochs: int, seed: int, batch_size: int = 64,
                                learning_rate: float = 3e-3) -> list:
    """Many independent networks of `train_frequency_classifier`'s architecture, one per dataset,
    trained at once: x [D, n, d], y [D, n]. The D networks are stacked weight tensors multiplied
    batch-wise; the loss is the sum of each network's mean cross-entropy, so every network gets its
    own gradient and (Adam being elementwise) its own update, as if trained alone. Glorot-uniform
    kernels and zero biases as Keras'; each epoch shuffles each dataset. Returns D Keras models.

    train.precision / train.distribute do not reach these networks, on purpose (issue 23): the
    500 networks of 14 → 64 → 64 → 1 (5 k weights each) train at once in about a minute on this
    CPU, each step one batched matmul per layer. A MirroredStrategy would copy every network to
    every device and split batches of 128 rows, adding an all-reduce per step to kernels far
    too small to fill one device; spreading the networks over devices is model sharding, not
    what tf.distribute mirrors. 16-bit compute saves nothing at this size, and CD's completeness
    check (rel + irrel = logit, `cd_completeness`) is read at float32 rounding. They stay in
    float32 on one device whatever the train params (the stage does not read them)."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    n_sets, n, d = x.shape
    rng = np.random.default_rng(seed)
    shapes = [(d, hidden), (hidden, hidden), (hidden, 1)]
    kernels = [tf.Variable((rng.uniform(-1, 1, (n_sets, a, b)) * np.sqrt(6 / (a + b))).astype(np.float32))
               for a, b in shapes]
    biases = [tf.Variable(np.zeros((n_sets, 1, b), np.float32)) for _, b in shapes]
    variables = kernels + biases
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)

    def logits(xb):
        h = xb
        for i, (k, b) in enumerate(zip(kernels, biases)):
            h = tf.matmul(h, k) + b
            h = tf.nn.relu(h) if i < 2 else h
        return h[..., 0]

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=yb, logits=logits(xb)), axis=1))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    sets = np.arange(n_sets)[:, None]
    for _ in range(epochs):
        order = np.argsort(rng.random((n_sets, n)), axis=1)
        for i in range(0, n, batch_size):
            rows = order[:, i:i + batch_size]
            step(tf.constant(x[sets, rows]), tf.constant(y[sets, rows]))
    broken = [j for j in range(n_sets) if not all(np.isfinite(v[j].numpy()).all() for v in variables)]
    if broken:
        raise TrainingError(f"frequency classifiers: the weights of {len(broken)} of {n_sets} networks (first: dataset "
                            f"{broken[0]}) became non-finite in {epochs} epochs at learning rate {learning_rate:g}")
    models = []
    for j in range(n_sets):
        model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(hidden, activation="relu"),
                                  keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(1)])
        model.set_weights([w for k, b in zip(kernels, biases) for w in (k[j].numpy(), b[j, 0].numpy())])
        models.append(model)
    return models


def deeplift_rescale(model, x) -> np.ndarray:
    """DeepLift multipliers (rescale rule, zero reference) of a Dense/ReLU chain's logit: g [n, d]
    with contribution of an input change Δ = g·Δ (exact: Σ_i g_i x_i = f(x) − f(0)). Each ReLU's
    multiplier is (relu(z) − relu(z₀)) / (z − z₀), its derivative where z = z₀."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    h, h0, multipliers = tf.convert_to_tensor(x, tf.float32), tf.zeros([1, x.shape[-1]]), []
    for layer in dense:
        z, z0 = h @ layer.kernel + layer.bias, h0 @ layer.kernel + layer.bias
        if layer is dense[-1]:
            break
        if keras.activations.serialize(layer.activation) not in ("relu", {"class_name": "function", "config": "relu"}) \
                and getattr(layer.activation, "__name__", "") != "relu":
            raise ValueError(f"deeplift_rescale: layer {layer.name!r} is not ReLU")
        dz = z - z0
        slope = tf.where(tf.abs(dz) > 1e-7, (tf.nn.relu(z) - tf.nn.relu(z0)) / tf.where(tf.abs(dz) > 1e-7, dz, 1.0),
                         tf.cast(z > 0, tf.float32))
        multipliers.append(slope)
        h, h0 = tf.nn.relu(z), tf.nn.relu(z0)
    g = tf.tile(tf.transpose(dense[-1].kernel), [tf.shape(h)[0], 1])  # [n, hidden]
    for layer, slope in zip(reversed(dense[:-1]), reversed(multipliers)):
        g = (g * slope) @ tf.transpose(layer.kernel)
    return g.numpy()


def shapley_bands(f: ModelOutput, parts, batch_size: int = 4096) -> np.ndarray:
    """Exact Shapley values of the bands: players = bands, v(S) = f(Σ_{b∈S} x_b) (bands outside S
    removed, the zero baseline); 2^n_bands evaluations per input. Returns [n, n_bands]."""
    n, n_bands = parts.shape[:2]
    subsets = ((np.arange(2 ** n_bands)[:, None] >> np.arange(n_bands)) & 1).astype(np.float32)  # [2^B, B]
    inputs = np.einsum("sb,nbd->nsd", subsets, parts).reshape(n * len(subsets), -1)
    v = f.predict(inputs, max(batch_size, 1 << 16)).reshape(n, len(subsets))  # a tiny network: one call
    size = subsets.sum(1).astype(int)
    weight = np.array([math.factorial(k) * math.factorial(n_bands - k - 1) / math.factorial(n_bands)
                       if k < n_bands else 0.0 for k in range(n_bands + 1)])
    index = np.arange(len(subsets))
    phi = np.zeros((n, n_bands))
    for b in range(n_bands):
        without = index[subsets[:, b] == 0]
        phi[:, b] = (v[:, without | (1 << b)] - v[:, without]) @ weight[size[without]]
    return phi


class EagerOutput:
    """ModelOutput's interface with eager calls: no trace per model, quicker for the validation's
    tiny networks, each explained once."""

    def __init__(self, model, output_index: int = 0):
        self.model, self.output_index = model, output_index

    def predict(self, images, batch_size: int = 1024) -> np.ndarray:
        x = tf.convert_to_tensor(images, tf.float32)
        return np.concatenate([_select(self.model(x[i:i + batch_size], training=False), self.output_index).numpy()
                               for i in range(0, int(x.shape[0]), batch_size)])

    def gradients(self, images, batch_size: int = 1024) -> tf.Tensor:
        x = tf.convert_to_tensor(images, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = _select(self.model(x, training=False), self.output_index)
        return tape.gradient(y, x)


def frequency_scores(model, x, parts, method: str, steps: int, batch_size: int) -> np.ndarray:
    """Band scores [n, n_bands] of the logit of `model` (see VALIDATE_METHODS)."""
    f = model if isinstance(model, (ModelOutput, EagerOutput)) else EagerOutput(model, 0)
    x = np.asarray(x, np.float32)
    n, n_bands, d = parts.shape
    if method == "cd":
        rel, _ = cd.decompose(f.model, parts.reshape(-1, d), (x[:, None] - parts).reshape(-1, d), batch_size,
                              compiled=isinstance(f, ModelOutput))
        return rel[:, 0].reshape(n, n_bands)
    if method == "knockout":
        return f.predict(x, batch_size)[:, None] - f.predict((x[:, None] - parts).reshape(-1, d), batch_size).reshape(n, n_bands)
    if method == "gradient_x_input":
        return np.einsum("nd,nbd->nb", f.gradients(x, batch_size).numpy(), parts)
    if method == "integrated_gradients":
        alpha = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
        grads = f.gradients((alpha[None, :, None] * x[:, None]).reshape(-1, d), batch_size).numpy()
        return np.einsum("nd,nbd->nb", grads.reshape(n, steps, d).mean(1), parts)
    if method == "deeplift":
        return np.einsum("nd,nbd->nb", deeplift_rescale(f.model, x), parts)
    if method == "shapley":
        return shapley_bands(f, parts, batch_size)
    raise ValueError(f"unknown method {method!r}; choose one of {VALIDATE_METHODS}")


def _rank_first(scores, aggregate: str) -> int:
    """Band with the largest mean |score| ("mean_abs") or mean score ("mean") over images."""
    curve = np.mean(np.abs(scores) if aggregate == "mean_abs" else scores, axis=0)
    return int(np.argmax(curve))


def validate_methods(n_datasets: int, n_train: int, n_features: int, n_bands: int, methods, hidden: int,
                     epochs: int, n_explain: int, steps: int = 32, aggregate: str = "mean_abs",
                     batch_size: int = 64, seed: int = 0, learning_rate: float = 3e-3) -> dict:
    """The paper's Table 1 simulation: how often does each method fail to rank the band holding
    the label's frequency first? Per dataset: a random frequency (uniform over the rfft
    frequencies), `n_train` training and `n_explain` held-out inputs, a 3-layer ReLU network;
    the band ranked first has the largest aggregate score over the held-out inputs. Returns
    per-method error counts / rates (binomial standard error) and per-dataset details: frequency,
    its band, held-out accuracy, seconds, each method's ranked-first band and curves, and CD's
    completeness gap (max |rel + irrel − logit| / mean |logit|)."""
    rng = np.random.default_rng(seed)
    masks = frequency_bands(n_features, n_bands)
    band_of = masks.argmax(0)
    frequencies, xs, ys = [], [], []
    for _ in range(n_datasets):
        frequencies.append(int(rng.integers(masks.shape[1])))
        x, y = simulate_frequency_dataset(n_train + n_explain, n_features, frequencies[-1], rng)
        xs.append(x)
        ys.append(y)
    xs, ys = np.stack(xs), np.stack(ys)
    start = time.perf_counter()
    models = train_frequency_classifiers(xs[:, :n_train], ys[:, :n_train], hidden, epochs, seed, batch_size,
                                         learning_rate)
    seconds_train = (time.perf_counter() - start) / n_datasets
    datasets = []
    for d in tqdm(range(n_datasets), desc="trim_validate"):
        model, frequency = models[d], frequencies[d]
        held, y_held = xs[d, n_train:], ys[d, n_train:]
        f = EagerOutput(model, 0)
        logit = f.predict(held, 1024)
        record = {"frequency": frequency, "target_band": int(band_of[frequency]), "seconds_train": seconds_train,
                  "accuracy": float(np.mean((logit > 0) == (y_held > 0.5))),
                  "ranked_first": {}, "curve_mean": {}, "curve_mean_abs": {}, "seconds": {}}
        parts = frequency_parts(held, masks)
        for method in methods:
            start = time.perf_counter()
            scores = frequency_scores(f, held, parts, method, steps, 1024)
            record["seconds"][method] = time.perf_counter() - start
            record["ranked_first"][method] = _rank_first(scores, aggregate)
            record["curve_mean"][method] = mean_curve(scores).tolist()
            record["curve_mean_abs"][method] = mean_curve(np.abs(scores)).tolist()
        if "cd" in methods:
            rel, irrel = cd.decompose(model, parts[:, 0], held - parts[:, 0], 1024, compiled=False)
            record["cd_completeness_gap"] = float(np.abs(rel + irrel - logit[:, None]).max() / max(np.abs(logit).mean(), 1e-12))
        datasets.append(record)
    return {"aggregate": aggregate, "methods": _error_rates(datasets, methods), "datasets": datasets}


def _error_rates(datasets, methods) -> dict:
    """Errors = datasets whose ranked-first band is not the true one; stderr is binomial."""
    n = len(datasets)
    out = {}
    for method in methods:
        errors = sum(r["ranked_first"][method] != r["target_band"] for r in datasets)
        rate = errors / n
        out[method] = {"errors": errors, "n_datasets": n, "error_rate": rate,
                       "stderr": float(np.sqrt(rate * (1 - rate) / n)),
                       "seconds_per_dataset": float(np.mean([r["seconds"][method]
                                                             for r in datasets]))}
    return out
