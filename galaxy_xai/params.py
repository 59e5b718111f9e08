"""Reading and validating the params groups that several stages share."""
from __future__ import annotations

from galaxy_xai.io import ParamError, require

MORPHOLOGY_MODELS = ("vgg16", "resnet50v2", "xception")
LR_SCHEDULES = ("constant", "cosine")  # galaxy_xai.models.morphology.learning_rate


def model_name(name: str, allowed=MORPHOLOGY_MODELS) -> str:
    if name not in allowed:
        raise ParamError(f"model name must be one of {list(allowed)}, got {name!r}")
    return name


def image_shape(params, source="params.yaml"):
    h = require(params, "data.img_height", int, lambda v: v >= 71, "an integer >= 71 (Xception's minimum)", source)
    w = require(params, "data.img_width", int, lambda v: v == h, f"equal to data.img_height ({h})", source)
    d = require(params, "data.img_depth", int, lambda v: v == 3, "3 (RGB JPEGs)", source)
    return (h, w, d)


def augmentation_kwargs(params, source="params.yaml") -> dict:
    g = "data.augmentation"
    num = (int, float)
    return dict(
        rotation_range=float(require(params, f"{g}.rotation_range", num, lambda v: 0 <= v <= 360, "degrees in [0, 360]", source)),
        width_shift_range=float(require(params, f"{g}.width_shift_range", num, lambda v: 0 <= v < 1, "a fraction in [0, 1)", source)),
        height_shift_range=float(require(params, f"{g}.height_shift_range", num, lambda v: 0 <= v < 1, "a fraction in [0, 1)", source)),
        horizontal_flip=require(params, f"{g}.horizontal_flip", bool, source=source),
        vertical_flip=require(params, f"{g}.vertical_flip", bool, source=source),
        brightness_delta=float(require(params, f"{g}.brightness_range", num, lambda v: 0 <= v < 1, "a fraction in [0, 1)", source)),
        fill_mode=require(params, f"{g}.fill_mode", str, lambda v: v in ("reflect", "wrap", "constant", "nearest"), "one of reflect, wrap, constant, nearest", source),
    )


def training_settings(params, name, source="params.yaml") -> dict:
    num = (int, float)
    pos = lambda v: v > 0  # noqa: E731
    return dict(
        epochs=require(params, f"train.epochs.{name}", int, pos, "a positive integer", source),
        batch_size=require(params, "train.batch_size", int, pos, "a positive integer", source),
        lr=float(require(params, "train.optimizer.lr", num, pos, "a positive number", source)),
        decay=float(require(params, "train.optimizer.decay", num, lambda v: v >= 0, "a non-negative number", source)),
        schedule=lr_schedule(params, source),
        jit_compile=require(params, f"train.jit_compile.{name}", bool, source=source),
        reduce_lr=require(params, "train.callbacks.reduce_lr", dict, source=source),
        early_stopping=require(params, "train.callbacks.early_stopping", dict, source=source),
        weights=require(params, "model.weights", (str, type(None)), lambda v: v in (None, "imagenet"), "null or 'imagenet'", source),
        seed=require(params, "data.random_seed", int, source=source),
        bn_momentum=bn_momentum(params, source),
    )


def bn_momentum(params, source="params.yaml"):
    """`train.bn_momentum`: null (Keras' 0.99) or a number in (0, 1)."""
    value = require(params, "train.bn_momentum", (int, float, type(None)),
                    lambda v: v is None or 0 < v < 1, "null or a number in (0, 1)", source)
    return None if value is None else float(value)


def lr_schedule(params, source="params.yaml") -> str:
    """`train.optimizer.schedule`: constant (with `decay` and ReduceLROnPlateau) or cosine (decay 0)."""
    schedule = require(params, "train.optimizer.schedule", str, lambda v: v in LR_SCHEDULES,
                       " or ".join(LR_SCHEDULES), source)
    decay = require(params, "train.optimizer.decay", (int, float), lambda v: v >= 0, "a non-negative number", source)
    if schedule == "cosine" and decay:
        raise ParamError(f"{source}: key 'train.optimizer.decay' must be 0 when train.optimizer.schedule is cosine")
    return schedule
