"""Params group `figures`: what the figures stage draws (SPEC §9)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, ListOf, Text, key, load as _load
from galaxy_xai.domain import VOTE_COLUMNS


@dataclass(frozen=True)
class FiguresConfig:
    n_sample_galaxies: int = key(Int(1), "galaxies in the class-heatmap figure")
    heatmap_classes: tuple = key(ListOf(Text(VOTE_COLUMNS, "a vote column"), distinct=True), "vote columns mapped")


def load(params: dict, source: str = PARAMS) -> FiguresConfig:
    return _load(FiguresConfig, params, "figures", source)
