"""Params group `model`: the initial weights of the morphology backbones and the control CNN."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Optional, Text, key, load as _load


@dataclass(frozen=True)
class ModelConfig:
    weights: str | None = key(Optional(Text(("imagenet",))), "null (random) or imagenet (needs network once)")


def load(params: dict, source: str = PARAMS) -> ModelConfig:
    return _load(ModelConfig, params, "model", source)
