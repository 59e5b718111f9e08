"""Params group `scl`: supervised contrastive learning of log M*, one model per input set (SPEC §5)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, ListOf, Number, Optional, Text, key, load as _load
from galaxy_xai.config.estimator import EstimatorConfig


@dataclass(frozen=True)
class SclConfig(EstimatorConfig):
    datasets: tuple = key(ListOf(Text(), distinct=True), "input sets, one SCL model each (e.g. Mopt, Iopt)")
    e: int | None = key(Optional(Int(0)), "extra latent size; null = the study's")
    coeff_recon: float | None = key(Optional(Number(0)), "reconstruction weight; null = the study's")
    group = "scl"


def load(params: dict, source: str = PARAMS) -> SclConfig:
    return _load(SclConfig, params, "scl", source)
