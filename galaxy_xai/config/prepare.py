"""Params group `prepare`: decoding the survey layouts into out/prepared/<family>."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, Number, key, load as _load


@dataclass(frozen=True)
class PrepareConfig:
    chunk_size: int = key(Int(1), "images held in memory at once")
    sdss_size: int = key(Int(32), "SDSS image size (SFNet input before the crop)")
    sdss_validation_split: float = key(Number(0, 1, True, True), "share of SDSS galaxies held out")
    seed: int = key(Int(0), "seed of the splits")
    vote_tolerance: float = key(Number(0, 0.5), "how far a vote fraction may lie outside [0, 1], and a "
                                "question's answers from their parent answer, before the file is refused")
    min_per_split: int = key(Int(3), "fewest galaxies a study may have in each split (3: a Pearson r "
                             "or an RMSE with a spread)")


def load(params: dict, source: str = PARAMS) -> PrepareConfig:
    return _load(PrepareConfig, params, "prepare", source)
