"""GalSim images of one galaxy: bulge + disk + bar + star-forming clumps on spiral arms, and in
type-1-like AGN an unresolved nucleus (a point source: the PSF itself).

Each component is drawn once per pixel grid with unit flux (convolved with the PSF); every band
is then a linear combination with that band's component fluxes, so colour gradients come from
the components' different spectra at the cost of 4 draws instead of 5 per grid.
"""
from __future__ import annotations

import galsim
import numpy as np
from astropy.visualization import make_lupton_rgb

from galaxy_xai.data.population import BANDS, COMPONENTS, SDSS_PIXEL_ARCSEC, SKY_SIGMA

GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3)


def component_profiles(g: dict, rng: np.random.Generator) -> dict:
    """Unit-flux GalSim profiles in arcsec, projected on the sky (x = disk line of nodes before PA)."""
    pa = g["position_angle"] * galsim.radians
    cos_i = g["axis_ratio"]  # thick-disk projection, the same the truth uses for bar lengths

    def on_sky(obj):
        # Tilt the disk plane (squash along y by the axis ratio), then turn it to its position angle.
        return obj.transform(1.0, 0.0, 0.0, cos_i).rotate(pa) if g["is_disk"] else obj

    q_bulge = 0.8 if g["is_disk"] else g["axis_ratio"]
    out = {"bulge": galsim.Sersic(n=g["bulge_n"], half_light_radius=g["r50_bulge_arcsec"], gsparams=GSPARAMS).shear(q=q_bulge, beta=pa)}
    if g.get("has_nuclear_source", False):
        out["nucleus"] = galsim.DeltaFunction(gsparams=GSPARAMS)  # unresolved: becomes the PSF
    if not g["is_disk"]:
        return out
    r50 = g["r50_disk_arcsec"]
    out["disk"] = on_sky(galsim.Exponential(half_light_radius=r50, gsparams=GSPARAMS))
    if g["has_bar"]:
        a = g["bar_half_length_arcsec"]
        bar = galsim.Sersic(n=0.5, half_light_radius=0.45 * a, gsparams=GSPARAMS).shear(q=0.25, beta=g["bar_phi"] * galsim.radians)
        out["bar"] = on_sky(bar)
    out["arms"] = on_sky(spiral_clumps(r50, rng))
    return out


def spiral_clumps(r50, rng, n_per_arm=10, pitch_deg=18.0):
    """Two logarithmic arms of Gaussian clumps (the disk plane), total flux 1."""
    theta = np.linspace(0.0, 1.6 * np.pi, n_per_arm) + rng.normal(0, 0.15, n_per_arm)
    r = 0.5 * r50 * np.exp(theta * np.tan(np.radians(pitch_deg)))
    phase = rng.uniform(0, 2 * np.pi)
    clumps = []
    for arm in range(2):
        ang = theta + phase + arm * np.pi
        for x, y in zip(r * np.cos(ang), r * np.sin(ang)):
            clumps.append(galsim.Gaussian(sigma=0.12 * r50, flux=1.0 / (2 * n_per_arm), gsparams=GSPARAMS).shift(x, y))
    return galsim.Add(clumps)


def draw_bands(profiles, fluxes, psf, size, scale, sky_sigma, rng):
    """[5, size, size] float32 images in nanomaggies per SDSS pixel, with Gaussian sky noise."""
    images = np.zeros((5, size, size), dtype=np.float64)
    # Pixels finer than SDSS's carry less flux each: rescale to surface brightness per SDSS pixel.
    sb = (SDSS_PIXEL_ARCSEC / scale) ** 2
    for comp, prof in profiles.items():
        stamp = galsim.Convolve(prof, psf, gsparams=GSPARAMS).drawImage(nx=size, ny=size, scale=scale).array
        images += fluxes[comp][:, None, None] * stamp[None] * sb
    images += rng.normal(0, 1, images.shape) * sky_sigma[:, None, None]
    return images.astype(np.float32)


def lupton_rgb(bands, stretch, q):
    """gri → RGB uint8 via the asinh stretch of Lupton et al. (2004), as SDSS's colour images."""
    # Band weights balance the colours of a typical galaxy, as the SDSS colour images do.
    g, r, i = 2.2 * bands[1], 1.3 * bands[2], 1.0 * bands[3]
    return make_lupton_rgb(i, r, g, minimum=0.0, stretch=stretch, Q=q)


def render_galaxy(g: dict, cfg):
    """All images of one galaxy: (survey-scale ugriz floats, Galaxy Zoo RGB, SDSS RGB, GZ pixel scale).

    `cfg`: the `simulate` params (galaxy_xai.config.simulate.SimulateConfig)."""
    rng = np.random.default_rng(g["seed"])
    profiles = component_profiles(g, rng)
    fluxes = {c: np.array([g[f"flux_{c}_{b}"] for b in BANDS]) for c in COMPONENTS if c in profiles}
    psf = galsim.Moffat(beta=3.5, fwhm=cfg.psf_fwhm_arcsec, gsparams=GSPARAMS)
    sky = SKY_SIGMA * cfg.noise_scale
    survey = draw_bands(profiles, fluxes, psf, cfg.stamp_size, SDSS_PIXEL_ARCSEC, sky, rng)
    # Galaxy Zoo cut-outs are scaled to the galaxy (real GZ2: 0.02·R90 per pixel over 424 px).
    gz_scale = cfg.gz_width_r90 * g["petroR90_r"] / cfg.gz_size
    # A resampled cut-out averages the sky noise of the finer pixels it interpolates.
    gz_sky = sky * min(1.0, gz_scale / SDSS_PIXEL_ARCSEC)
    gz = draw_bands(profiles, fluxes, psf, cfg.gz_size, gz_scale, gz_sky, rng)
    return (
        survey,
        lupton_rgb(gz, cfg.rgb_stretch, cfg.rgb_q),
        lupton_rgb(survey, cfg.rgb_stretch, cfg.rgb_q),
        gz_scale,
    )
