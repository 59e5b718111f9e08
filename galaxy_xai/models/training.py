"""Input pipelines and training helpers shared by every image model of the project.

Images come from memory-mapped prepared arrays and are read one batch at a time, so memory does
not grow with the catalogue; tf.data applies augmentation and prefetches the next batch.
"""
from __future__ import annotations

import contextlib
import time

import keras
import numpy as np
import tensorflow as tf

from galaxy_xai.errors import TrainingError
from galaxy_xai.layout import PIXEL_SCALE


def image_batches(images, rows, targets, batch_size, shuffle=False, seed=0, augment=None, scale=PIXEL_SCALE, repeat=False):
    """A tf.data pipeline of (image, target) batches from a memmap `images[rows]`.

    `targets` is aligned with `rows` (or None for inference). Pixels are multiplied by `scale`
    (uint8 -> [0, 1] by default: galaxy_xai.layout.PIXEL_SCALE). Shuffling reshuffles the row order
    every epoch from a seeded generator, so a rerun sees the same batches.
    """
    rows = np.asarray(rows)
    shape = images.shape[1:]
    rng = np.random.default_rng(seed)
    targets = None if targets is None else np.asarray(targets, dtype=np.float32)

    def batches():
        order = rng.permutation(len(rows)) if shuffle else np.arange(len(rows))
        for start in range(0, len(rows), batch_size):
            pick = order[start : start + batch_size]
            # Read in sorted row order (sequential on disk), then put the images back in the
            # batch's order: predictions must come out in the order of `rows`.
            sort = np.argsort(rows[pick], kind="stable")
            x = np.empty((len(pick), *shape), dtype=np.float32)
            x[sort] = np.asarray(images[rows[pick[sort]]], dtype=np.float32) * scale
            yield (x, targets[pick]) if targets is not None else x

    x_spec = tf.TensorSpec((None, *shape), tf.float32)
    spec = (x_spec, tf.TensorSpec((None, *targets.shape[1:]), tf.float32)) if targets is not None else x_spec
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    # A known length lets Keras show progress and size epochs without "ran out of data".
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-len(rows) // batch_size)))
    if repeat:
        ds = ds.repeat()
    if augment is not None:
        # One call at a time: the augmentation layers advance a shared seed state, and parallel
        # calls would race on it (a rerun would see other transforms). Prefetch still overlaps it.
        ds = ds.map(lambda x, y: (augment(x, training=True), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def predict_rows(model, images, rows, batch_size, scale=PIXEL_SCALE, verbose=0) -> np.ndarray:
    """Model outputs for `images[rows]`, streamed in batches (order kept)."""
    ds = image_batches(images, rows, None, batch_size, scale=scale)
    return model.predict(ds, verbose=verbose)


class Throughput(keras.callbacks.Callback):
    """Wall time and training steps of every epoch, and the rates they give.

    The first epoch also traces (and compiles) the graph, so the rates skip it when there are
    later epochs. The epoch times include validation, as Keras runs it before `on_epoch_end`.
    """

    def __init__(self, batch_size=1):
        super().__init__()
        self.batch_size = batch_size
        self.seconds, self.steps = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.steps.append(self._steps)

    def _later(self, values):
        values = np.asarray(values, dtype=float)
        return values[1:] if len(values) > 1 else values

    @property
    def images_per_second(self) -> float:
        return float(np.median(self._later(self.steps) * self.batch_size / self._later(self.seconds)))

    @property
    def seconds_per_step(self) -> float:
        return float(np.median(self._later(self.seconds) / self._later(self.steps)))


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training with one sentence naming the model and the epoch when the loss is NaN or
    infinite, so a bad target never becomes a saved model with a NaN metric and exit 0.

    Keras' own TerminateOnNaN stops quietly and the stage would go on to write its outputs."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.epoch = name, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check((logs or {}).get("loss"), f"batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check((logs or {}).get("val_loss"), "validation")

    def _check(self, loss, where):
        if loss is not None and not np.isfinite(float(loss)):
            raise TrainingError(f"{self.name}: the loss became {float(loss)} at epoch {self.epoch + 1} ({where}); "
                                "check its targets and inputs for NaN, or lower the learning rate")


def set_seeds(seed: int) -> None:
    """Python, NumPy and TensorFlow seeds, for reruns with the same outputs.

    The CPU kernels used here are deterministic already (a test trains twice and compares
    weights), so we do not call `tf.config.experimental.enable_op_determinism()`: on this CPU
    it made training 4x slower. On a GPU, export TF_DETERMINISTIC_OPS=1 for the same guarantee.
    """
    keras.utils.set_random_seed(seed)


# --- Precision and distribution (issue 23) ------------------------------------------------------
# Every trained model of the project is built and compiled inside `strategy_scope(train_cfg)`:
#
#     with training.strategy_scope(train_cfg):
#         model = build(...)
#         model.compile(...)          # Keras wraps the optimiser in a LossScaleOptimizer for float16
#     model.fit(...)
#
# Global batch size: the `batch_size` of the dataset is the global batch; a strategy splits it
# over its replicas (each of N devices sees batch_size / N). Learning-rate rule: the learning
# rate is the one of the params, unchanged, because the global batch (and so the gradient's
# noise) is unchanged; raise batch_size for more devices and scale lr with it yourself (linear
# rule), it is never rescaled silently. Model outputs and losses stay float32: the last layer of
# every model is built with dtype="float32" (`OUTPUT_DTYPE`).

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("none", "mirrored", "multi_worker")
OUTPUT_DTYPE = "float32"  # dtype of every model's final layer, whatever the precision policy


def set_precision(precision: str = "float32") -> None:
    """Keras' global dtype policy: float32 | mixed_float16 | mixed_bfloat16.

    Mixed policies compute in 16 bits and keep variables in float32; layers built afterwards
    use it. float16 needs loss scaling: `Model.compile` adds a LossScaleOptimizer itself, and a
    custom `train_step` must go through `scaled_loss` / `optimizer.apply` (see below).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {list(PRECISIONS)}")
    keras.mixed_precision.set_global_policy(precision)


_STRATEGIES: dict = {}


def strategy(distribute: str = "none"):
    """The tf.distribute strategy of `train.distribute`, made once per process (None for "none").

    mirrored: every local GPU (or logical device) of this machine. multi_worker: every machine
    of the cluster described by the TF_CONFIG environment variable, each with its local devices;
    it must be made before any other TensorFlow op, so a stage makes it first.
    """
    if distribute not in STRATEGIES:
        raise ValueError(f"unknown distribution {distribute!r}; expected one of {list(STRATEGIES)}")
    if distribute == "none":
        return None
    if distribute not in _STRATEGIES:
        if distribute == "mirrored":
            _STRATEGIES[distribute] = tf.distribute.MirroredStrategy()
        else:
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
            _STRATEGIES[distribute] = _fit_ready(tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver))
    return _STRATEGIES[distribute]


def _fit_ready(multi_worker):
    """MultiWorkerMirroredStrategy with a `reduce` that Keras 3.15's fit() can call.

    Under several workers fit() hands `reduce` a tuple of per-replica batches (its symbolic build)
    and per-replica scalar logs with axis=0; the collective reduce refuses both ("Attempt to convert
    a value (PerReplica...)", "Invalid reduction dimension 0"). Reducing each value of the structure
    on its own, scalars across replicas only (axis=None, the mean Keras means), is what a single
    worker does. Checked against one device in tests/test_distribute.py."""
    reduce = multi_worker.reduce

    def each(reduce_op, value, axis=None):
        def one(v):
            scalar = all(t.shape.rank == 0 for t in multi_worker.experimental_local_results(v))
            return reduce(reduce_op, v, axis=None if scalar else axis)
        return tf.nest.map_structure(one, value)
    multi_worker.reduce = each
    return multi_worker


@contextlib.contextmanager
def strategy_scope(cfg=None, precision: str | None = None, distribute: str | None = None):
    """Set the precision policy and enter the strategy's scope: build and compile models inside.

    `cfg`: the `train` params (galaxy_xai.config.train.TrainConfig, or anything with `precision`
    and `distribute`); `precision` / `distribute` override it. Yields the strategy (None for
    "none", where nothing is entered and training is exactly what it was without this).
    The policy is set back on leaving: models keep theirs (it is saved per layer).
    """
    precision = precision or getattr(cfg, "precision", "float32")
    distribute = distribute or getattr(cfg, "distribute", "none")
    chosen = strategy(distribute)
    before = keras.mixed_precision.global_policy().name
    set_precision(precision)
    try:
        with chosen.scope() if chosen is not None else contextlib.nullcontext():
            yield chosen
    finally:  # layers made outside (augmentation, analysis models) keep float32
        keras.mixed_precision.set_global_policy(before)


def replicas() -> int:
    """Replicas training in sync under the current strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scaled_loss(optimizer, loss):
    """The loss a custom `train_step` differentiates: divided by the replicas in sync (their
    gradients are summed) and multiplied by the optimiser's loss scale (float16). Pass the
    gradients of this to `optimizer.apply(grads, variables)`, which unscales them (and skips
    the step when they are not finite); report the unscaled `loss`.

    `loss` must be this replica's mean over its own examples (its share of the global batch).
    """
    loss = loss / tf.cast(replicas(), loss.dtype) if replicas() > 1 else loss
    return optimizer.scale_loss(loss)


def is_chief() -> bool:
    """False only on the non-chief workers of a multi-worker run (they need not write outputs)."""
    chosen = _STRATEGIES.get("multi_worker")
    return chosen is None or bool(chosen.extended.should_checkpoint)
