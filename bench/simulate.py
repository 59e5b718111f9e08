"""Galaxies rendered per second (ugriz at 64 px, plus the Galaxy Zoo cut-out), on all cores.

Reference: the straightforward renderer that draws every band separately (one GalSim draw of the
summed profile per band and grid) on one core. Run: `python bench/simulate.py [n_galaxies]`.
"""
import os
import sys
import time

import galsim
import numpy as np

from galaxy_xai.config import read_params, simulate as simulate_config
from galaxy_xai.data.population import BANDS, draw_population, photometry
from galaxy_xai.data.render import GSPARAMS, SDSS_PIXEL_ARCSEC, component_profiles
from galaxy_xai.data.simulate import render_all


def reference_render(g, cfg):
    rng = np.random.default_rng(g["seed"])
    profiles = component_profiles(g, rng)
    psf = galsim.Moffat(beta=3.5, fwhm=cfg.psf_fwhm_arcsec)
    gz_scale = cfg.gz_width_r90 * g["petroR90_r"] / cfg.gz_size
    out = []
    for size, scale in [(cfg.stamp_size, SDSS_PIXEL_ARCSEC), (cfg.gz_size, gz_scale)]:
        for b in BANDS:
            total = galsim.Add([p * g[f"flux_{c}_{b}"] for c, p in profiles.items()])
            out.append(galsim.Convolve(total, psf, gsparams=GSPARAMS).drawImage(nx=size, ny=size, scale=scale).array)
    return out


def main(n=400):
    cfg = simulate_config.load(read_params())  # run from the repository root
    rng = np.random.default_rng(0)
    pop = draw_population(n, rng)
    pop = pop.join(photometry(pop, rng, cfg.noise_scale))
    pop["seed"] = np.arange(n)
    rows = pop.to_dict("records")
    workers = os.cpu_count() or 1
    t0 = time.perf_counter()
    for _ in render_all(rows, cfg, workers):
        pass
    fast = n / (time.perf_counter() - t0)
    m = max(n // 4, 20)
    t0 = time.perf_counter()
    for g in rows[:m]:
        reference_render(g, cfg)
    ref = m / (time.perf_counter() - t0)
    print(f"render_all ({workers} workers): {fast:.1f} galaxies/s (5 bands at {cfg.stamp_size} px + GZ cut-out)")
    print(f"reference (1 core, 5 draws per grid): {ref:.1f} galaxies/s")
    print(f"ratio: {fast / ref:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
