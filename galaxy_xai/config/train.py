"""Params group `train`: the morphology CNNs' training, and `train.k`, the SFNet's k."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Bool, Int, MapOf, Number, Optional, Section, Text, key, load as _load
from galaxy_xai.domain import BACKBONES, LR_SCHEDULES
from galaxy_xai.errors import ParamError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # = galaxy_xai.models.training.PRECISIONS
STRATEGIES = ("none", "mirrored", "multi_worker")  # = galaxy_xai.models.training.STRATEGIES


@dataclass(frozen=True)
class Optimizer:
    lr: float = key(Number(0, lo_open=True), "Adam learning rate")
    decay: float = key(Number(0), "Keras 2 style inverse-time decay (schedule constant only)")
    schedule: str = key(Text(LR_SCHEDULES), "cosine: lr -> 0 over the run; constant: lr, decay, ReduceLROnPlateau")


@dataclass(frozen=True)
class ReduceLR:
    monitor: str = key(Text(), "metric watched")
    factor: float = key(Number(0, 1, True, True), "learning-rate multiplier on a plateau")
    patience: int = key(Int(0), "epochs without improvement before reducing")
    min_lr: float = key(Number(0), "floor of the learning rate")


@dataclass(frozen=True)
class EarlyStopping:
    monitor: str = key(Text(), "metric watched")
    patience: int = key(Int(0), "epochs without improvement before stopping")
    restore_best_weights: bool = key(Bool(), "keep the best epoch's weights")


@dataclass(frozen=True)
class Callbacks:
    reduce_lr: ReduceLR = key(Section(ReduceLR), "ReduceLROnPlateau (schedule constant, decay 0)")
    early_stopping: EarlyStopping = key(Section(EarlyStopping), "EarlyStopping")


@dataclass(frozen=True)
class TrainConfig:
    epochs: dict = key(MapOf(BACKBONES, Int(1)), "epochs per backbone")
    batch_size: int = key(Int(1), "images per step (morphology, control, predictions)")
    optimizer: Optimizer = key(Section(Optimizer), "optimiser and learning-rate schedule")
    callbacks: Callbacks = key(Section(Callbacks), "Keras callbacks")
    jit_compile: dict = key(MapOf(BACKBONES, Bool()), "XLA per backbone")
    bn_momentum: float | None = key(Optional(Number(0, 1, True, True)), "batch-norm momentum; null = Keras' 0.99")
    k: int = key(Int(1, 512), "SFNet: active features kept by the top-k layer")
    precision: str = key(Text(PRECISIONS), "Keras dtype policy of every trained model (outputs and losses stay float32)")
    distribute: str = key(Text(STRATEGIES), "tf.distribute strategy: none, mirrored (local devices) or multi_worker "
                                            "(TF_CONFIG); batch sizes are global, learning rates unchanged")

    def check(self, source):
        if self.optimizer.schedule == "cosine" and self.optimizer.decay:
            raise ParamError(f"{source}: key 'train.optimizer.decay' must be 0 when train.optimizer.schedule is "
                             f"cosine, got {self.optimizer.decay}")


def load(params: dict, source: str = PARAMS) -> TrainConfig:
    return _load(TrainConfig, params, "train", source)
