"""Morphology CNNs of the saliency study (SPEC §2): Galaxy Zoo vote fractions from images.

Three `keras.applications` backbones with every ReLU replaced by swish and a sigmoid head
(vote fractions lie in [0, 1]). Inputs are images scaled to [0, 1] (galaxy_xai.layout.PIXEL_SCALE,
applied by models.training.image_batches), as in the original study; no ImageNet-specific preprocessing is applied, so
with `weights="imagenet"` the backbone is fine-tuned from a slightly shifted input range.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from galaxy_xai.domain import BACKBONES, LR_SCHEDULES
from galaxy_xai.errors import InputError
from galaxy_xai.models.training import OUTPUT_DTYPE

# The keras.applications constructor of each backbone (galaxy_xai.domain.BACKBONES).
APPLICATIONS = {
    "vgg16": keras.applications.VGG16,
    "resnet50v2": keras.applications.ResNet50V2,
    "xception": keras.applications.Xception,
}


# E[swish(x)^2] for x ~ N(0, 1) is 0.356 (ReLU: 0.5). A fan-in variance scale of 1 / 0.356 keeps
# the signal's variance through a plain stack of swish layers, as He init does for ReLU. Without it
# a randomly initialised VGG16 (no batch norm) passes almost nothing to its head and sits at the mean.
def swish_initializer():
    """A fresh variance-preserving initialiser for swish layers (see above).

    Made per layer, after the stage has set its seeds: an unseeded Keras initialiser draws its
    seed when it is constructed, so one made at import time gave every process other weights.
    """
    return keras.initializers.VarianceScaling(scale=1 / 0.356, mode="fan_in", distribution="truncated_normal")


def _swish_instead_of_relu(layer, swish_init=False, bn_momentum=None):
    """`clone_model` hook: a fresh copy of `layer`, with swish wherever it used ReLU.

    Covers layers with `activation="relu"` (Conv2D, Dense, Activation) and ReLU layers.
    Editing the config (not the live layer) means the swish is what gets serialised.
    `swish_init`: such layers also get the variance-preserving `swish_initializer()` kernels.
    `bn_momentum`: momentum of the batch-norm moving statistics (None keeps Keras' 0.99).
    """
    if isinstance(layer, layers.ReLU):
        return layers.Activation("swish", name=layer.name)
    config = layer.get_config()
    if isinstance(layer, layers.BatchNormalization) and bn_momentum is not None:
        config["momentum"] = bn_momentum
    if config.get("activation") == "relu":
        config["activation"] = "swish"
        if swish_init and "kernel_initializer" in config:
            config["kernel_initializer"] = keras.initializers.serialize(swish_initializer())
    return layer.__class__.from_config(config)


def backbone_weights(weights, name):
    """`model.weights` for backbone `name`: None, "imagenet", or the path of a local weights file
    (`{backbone}` in it becomes the backbone's name), which must exist."""
    if weights is None or weights == "imagenet":
        return weights
    path = Path(str(weights).replace("{backbone}", name))
    if not path.is_file():
        raise InputError(f"{path}: model.weights names no such file (the weights of the {name} backbone)")
    return str(path)


def _application(name, input_shape, weights):
    """The headless keras.applications backbone, its weights loaded; a local file that does not
    fit it is refused with one sentence naming the file and the backbone."""
    weights = backbone_weights(weights, name)
    try:
        return APPLICATIONS[name](include_top=False, weights=weights, input_shape=input_shape)
    except (ValueError, KeyError, OSError, TypeError) as err:
        if weights in (None, "imagenet"):
            raise
        raise InputError(f"{weights}: model.weights does not fit the {name} backbone without its top at input "
                         f"{tuple(input_shape)} (expected the weights of keras.applications."
                         f"{APPLICATIONS[name].__name__}(include_top=False); {type(err).__name__}: "
                         f"{str(err).splitlines()[0][:160] if str(err) else ''})") from None


def swish_backbone(name, input_shape, weights=None, bn_momentum=None):
    """A headless `keras.applications` backbone whose ReLUs are all swish: pretrained weights are
    kept; random ones are drawn afresh with the swish-preserving initialiser.

    `bn_momentum`: Keras' 0.99 leaves the moving statistics ~30 % at their initial values after
    the ~120 steps of a short run, so validation (which uses them) sat at or above the mean
    while training RMSE fell (measured: ResNet50V2 train 0.09, validation 0.19); 0.9 forgets
    the start within ~50 steps."""
    if name not in APPLICATIONS:
        raise ValueError(f"unknown backbone {name!r}; expected one of {list(BACKBONES)}")
    original = _application(name, input_shape, weights)
    inputs = keras.Input(shape=input_shape, name="image")
    backbone = keras.models.clone_model(
        original, input_tensors=inputs, clone_function=lambda layer: _swish_instead_of_relu(layer, weights is None, bn_momentum)
    )
    if weights is not None:  # same topology and layer order, so the weights map one to one
        backbone.set_weights(original.get_weights())
    return backbone


def build_model(name, input_shape, n_outputs, weights=None, output_mean=None, bn_momentum=None):
    """Backbone `name` (vgg16 | resnet50v2 | xception) with the study's head.

    VGG16: Flatten -> Dense(16n, swish) -> Dense(8n, swish) -> Dense(n, sigmoid).
    ResNet50V2 / Xception: GlobalAveragePooling2D -> Dense(n, sigmoid).
    `weights`: None (random init), "imagenet" (needs network and 3 channels) or a local weights
    file of the headless backbone (`backbone_weights`).
    The output layer is float32 whatever the precision policy (galaxy_xai.models.training).
    `output_mean`: the training mean of each vote fraction; the sigmoid's bias starts at its
    logit, so an untrained model already predicts the mean and training refines from there.
    """
    backbone = swish_backbone(name, input_shape, weights, bn_momentum)
    x = backbone.output
    if name == "vgg16":
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(16 * n_outputs, activation="swish", kernel_initializer=swish_initializer(), name="fc1")(x)
        x = layers.Dense(8 * n_outputs, activation="swish", kernel_initializer=swish_initializer(), name="fc2")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    # Sigmoid because vote fractions are in [0, 1]; kept as the last layer so saliency
    # tools can swap it for a linear activation.
    bias = "zeros"
    if output_mean is not None:
        p = np.clip(np.asarray(output_mean, dtype="float64"), 1e-4, 1 - 1e-4)
        bias = keras.initializers.Constant(np.log(p / (1 - p)))
    outputs = layers.Dense(n_outputs, activation="sigmoid", bias_initializer=bias, name="predictions",
                           dtype=OUTPUT_DTYPE)(x)
    return keras.Model(backbone.input, outputs, name=name)


def build_regressor(shape, weights=None, bn_momentum=None):
    """The bar-length control (SPEC §3): Xception (swish) → global average pool → one linear
    output, since a length is not a probability."""
    backbone = swish_backbone("xception", shape, weights, bn_momentum)
    x = layers.GlobalAveragePooling2D()(backbone.output)
    return keras.Model(backbone.input, layers.Dense(1, name="length", dtype=OUTPUT_DTYPE)(x), name="control")


def learning_rate(lr, decay=0.0, schedule="constant", total_steps=None):
    """Adam's learning rate: a float, Keras 2's `decay` or a cosine over the whole run.

    constant, decay == 0: a plain float, which `keras.callbacks.ReduceLROnPlateau` can lower.
    constant, decay > 0: lr_t = lr / (1 + decay * step), an InverseTimeDecay schedule
      (ReduceLROnPlateau cannot change a schedule; it raises TypeError when it fires).
    cosine: lr -> 0 along half a cosine over `total_steps`. In a run of a few epochs the last
      ones then take small steps, which settles the batch-norm backbones; with a constant rate
      their validation RMSE jumped between the last epochs (0.093 -> 0.116 for ResNet50V2).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {LR_SCHEDULES}")
    if schedule == "cosine":
        if decay > 0 or not total_steps:
            raise ValueError("a cosine schedule needs total_steps and decay 0")
        return keras.optimizers.schedules.CosineDecay(initial_learning_rate=lr, decay_steps=int(total_steps))
    if decay > 0:
        return keras.optimizers.schedules.InverseTimeDecay(initial_learning_rate=lr, decay_steps=1, decay_rate=decay)
    return lr


def compile_model(model, lr, decay=0.0, jit_compile=False, schedule="constant", total_steps=None):
    """Adam (learning rate from `learning_rate`), MSE loss, RMSE metric.

    `jit_compile`: True / False / "auto"; XLA helps VGG16 and ResNet50V2 on CPU but slows
    Xception (SPEC §10), so choose it per backbone.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate(lr, decay, schedule, total_steps)),
        loss="mse",
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=jit_compile,
    )
    return model


def augmentation(
    rotation_range=0.0,
    width_shift_range=0.0,
    height_shift_range=0.0,
    horizontal_flip=False,
    vertical_flip=False,
    brightness_delta=0.0,
    fill_mode="reflect",
    seed=0,
):
    """Random training-time transforms for images in [0, 1]; inactive at inference.

    rotation_range: max rotation in degrees (as ImageDataGenerator); shifts: fractions of
    the image size; brightness_delta: max additive shift as a fraction of [0, 1] (Keras 3's
    RandomBrightness is additive, unlike ImageDataGenerator's multiplicative range).
    Each layer gets its own seed (seed, seed + 1, ...) so their random draws are independent.
    """
    pipeline = keras.Sequential(name="augmentation")
    seeds = iter(range(seed, seed + 4))
    if rotation_range:
        pipeline.add(layers.RandomRotation(
            rotation_range / 360.0, fill_mode=fill_mode, seed=next(seeds), name="rotation"))
    flip_mode = {
        (True, True): "horizontal_and_vertical",
        (True, False): "horizontal",
        (False, True): "vertical",
    }.get((bool(horizontal_flip), bool(vertical_flip)))
    if flip_mode:
        pipeline.add(layers.RandomFlip(flip_mode, seed=next(seeds), name="flip"))
    if width_shift_range or height_shift_range:
        pipeline.add(layers.RandomTranslation(
            height_shift_range, width_shift_range, fill_mode=fill_mode, seed=next(seeds),
            name="shift"))
    if brightness_delta:
        pipeline.add(layers.RandomBrightness(
            brightness_delta, value_range=(0.0, 1.0), seed=next(seeds), name="brightness"))
    if not pipeline.layers:
        pipeline.add(layers.Identity(name="no_augmentation"))  # an empty Sequential can't build
    return pipeline


def configured_augmentation(aug, seed):
    """`augmentation` from the `data.augmentation` params (galaxy_xai.config.data.Augmentation)."""
    return augmentation(rotation_range=aug.rotation_range, width_shift_range=aug.width_shift_range,
                        height_shift_range=aug.height_shift_range, horizontal_flip=aug.horizontal_flip,
                        vertical_flip=aug.vertical_flip, brightness_delta=aug.brightness_range,
                        fill_mode=aug.fill_mode, seed=seed)
