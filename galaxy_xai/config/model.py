"""Params group `model`: the initial weights of the morphology backbones and the control CNN."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Optional, Text, key, load as _load


class WeightsRule(Text):
    """imagenet, or the path of a local weights file (.h5 / .weights.h5)."""

    what = "imagenet or the path of a local .h5 / .weights.h5 weights file ({backbone} is replaced by its name)"

    def __init__(self):
        super().__init__(what=self.what)

    def ok(self, v):
        return super().ok(v) and (v == "imagenet" or v.endswith(".h5"))


@dataclass(frozen=True)
class ModelConfig:
    weights: str | None = key(Optional(WeightsRule()), "null (random), imagenet (needs network once) or a local "
                                                       "weights file of the headless backbone, e.g. "
                                                       "weights/{backbone}_notop.h5 (fetched once elsewhere)")


def load(params: dict, source: str = PARAMS) -> ModelConfig:
    return _load(ModelConfig, params, "model", source)
