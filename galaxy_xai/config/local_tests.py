"""Params group `local_tests`: y ⟂ x (| c) among each galaxy's latent-space neighbours (SPEC §6)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Bool, Int, Optional, Text, key, load as _load


@dataclass(frozen=True)
class LocalTestsConfig:
    target: str = key(Text(), "catalogue column y")
    query: str = key(Text(), "catalogue column x")
    condition: str = key(Text(), "catalogue column c")
    k_nn: int = key(Int(4), "neighbours per test (<= knn.k_max)")
    weights: bool = key(Bool(), "Gaussian kernel of the latent distance")
    truth_query: str | None = key(Optional(Text()), "with data.truth: the truth column tested as x; null = skip")
    n_bootstrap: int = key(Int(1), "bootstrap draws of the headline CIs")
    seed: int = key(Int(0), "seed of the permutation nulls and the bootstrap")


def load(params: dict, source: str = PARAMS) -> LocalTestsConfig:
    return _load(LocalTestsConfig, params, "local_tests", source)
