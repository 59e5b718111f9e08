"""Params group `simulate`: the GalSim universe written in the survey layouts (SPEC §1.2)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, Number, Optional, key, load as _load

POSITIVE = Number(0, lo_open=True)
PIXELS = Int(16)  # an image side
COUNT = Int(0)  # a seed or a number of processes


@dataclass(frozen=True)
class SimulateConfig:
    n_galaxies: int = key(Int(8), "galaxies drawn")
    seed: int = key(COUNT, "seed of the population and the images")
    workers: int = key(COUNT, "rendering processes; 0 = every core")
    stamp_size: int = key(PIXELS, "pixels of the ugriz stamps (stellar-mass layout)")
    gz_size: int = key(PIXELS, "pixels of the Galaxy Zoo cut-outs (real: 424)")
    gz_width_r90: float = key(POSITIVE, "cut-out width in units of Petrosian R90")
    noise_scale: float = key(POSITIVE, "sky noise relative to SDSS")
    psf_fwhm_arcsec: float = key(POSITIVE, "PSF FWHM, arcsec")
    gz_test_fraction: float = key(Number(0, 1, hi_open=True), "share of galaxies in the unlabelled test folder")
    rgb_stretch: float = key(POSITIVE, "Lupton asinh colour images: linear stretch")
    rgb_q: float = key(POSITIVE, "Lupton asinh colour images: softening Q")
    bar_seen_min_cos_i: float = key(Number(0, 1, hi_open=True), "a bar in a disk with cos i at or below this is not seen")
    bar_catalogue_z_max: float | None = key(Optional(POSITIVE), "redshift limit of the bar catalogue; null = none")


def load(params: dict, source: str = PARAMS) -> SimulateConfig:
    return _load(SimulateConfig, params, "simulate", source)
