"""Params group `knn`: nearest training galaxies in each SCL latent space (SPEC §6)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, key, load as _load


@dataclass(frozen=True)
class KnnConfig:
    k_max: int = key(Int(1), "nearest training galaxies kept per galaxy")
    chunk_size: int = key(Int(1), "query galaxies per distance block")
    workers: int = key(Int(0), "blocks computed in parallel; 0 = every core")


def load(params: dict, source: str = PARAMS) -> KnnConfig:
    return _load(KnnConfig, params, "knn", source)
