"""The causal model of the simulated universe: every latent and observed catalogue quantity.

Arrows (each a function below, in the order they are drawn):
    z ──► flux limit ◄── M*            (selection correlates observed M* and z)
    M* ──► disk / elliptical, bulge fraction, size, bar, SFR, metallicity, AGN
    inclination (cos i uniform) ──► axis ratio, internal dust ──► magnitudes, line fluxes
    inclination ──► observed (fibre) metallicity of disks   (the bias SFNet recovers)
    true M* does NOT depend on inclination; photometry does.
Everything is vectorised over galaxies; the only randomness is the Generator passed in.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.cosmology import FlatLambdaCDM
from scipy.special import gammaincinv

from galaxy_xai.data.lines import KAUFFMANN_X_MAX, kauffmann_agn, kauffmann_line
from galaxy_xai.domain import BANDS

COSMOLOGY = FlatLambdaCDM(H0=70, Om0=0.3)
SDSS_PIXEL_ARCSEC = 0.396
# Galactic extinction per unit E(B-V) in SDSS bands (Schlafly & Finkbeiner 2011).
R_GALACTIC = np.array([4.239, 3.303, 2.285, 1.698, 1.263])
# Internal (Calzetti-like) attenuation per band relative to A_V.
A_BAND_OVER_AV = np.array([1.55, 1.20, 0.85, 0.65, 0.50])
# SDSS 5σ point-source depths (mag, 1.4" seeing) and the sky noise per 0.396" pixel (nanomaggies)
# they imply: 5σ = the flux of a PSF of noise-equivalent area 4π(1.4"/2.355)² ≈ 28 pixels.
# These are the images' noise and the photometry's.
DEPTH_5SIGMA = np.array([22.0, 22.2, 22.2, 21.3, 20.5])
SKY_SIGMA = 10 ** (-0.4 * (DEPTH_5SIGMA - 22.5)) / 5 / np.sqrt(4 * np.pi * (1.4 / 2.355 / SDSS_PIXEL_ARCSEC) ** 2)
# Photometric calibration floor (mag) per band.
MAG_ERR_FLOOR = np.array([0.04, 0.02, 0.02, 0.02, 0.03])
# SDSS sums the Petrosian flux within 2 Petrosian radii, about 1.86 R90 for an exponential disk.
PETRO_APERTURE_OVER_R90 = 1.86
# The drawn population (physics, not params): redshift and log M* ranges, the Schechter mass
# function's knee and slope, the r-band flux limit (SDSS main sample) and the light in spiral arms.
Z_RANGE = (0.02, 0.25)
LOGM_RANGE = (8.5, 12.0)
SCHECHTER_LOGM, SCHECHTER_ALPHA = 10.8, -1.2
MAG_LIMIT = 17.77
ARMS_FRAC = 0.25


def _sersic_b(n):
    return gammaincinv(2 * n, 0.5)


def draw_intrinsic(n, rng, z_range, logm_range, schechter_logm, schechter_alpha):
    """Redshift (∝ comoving volume) and stellar mass (Schechter), before the flux limit."""
    z0, z1 = z_range
    z = (z0**3 + rng.uniform(size=n) * (z1**3 - z0**3)) ** (1 / 3)
    grid = np.linspace(*logm_range, 2001)
    x = 10 ** (grid - schechter_logm)
    pdf = x ** (schechter_alpha + 1) * np.exp(-x)
    cdf = np.cumsum(pdf) / pdf.sum()
    logm = np.interp(rng.uniform(size=n), cdf, grid)
    return z, logm


def draw_structure(logm, rng):
    """Morphology, bulge fraction, sizes (kpc) and orientation, all from M* (plus chance)."""
    n = len(logm)
    is_disk = rng.uniform(size=n) < 1 / (1 + np.exp((logm - 10.9) / 0.3))
    bulge_frac = np.where(
        is_disk, np.clip(0.08 + 0.12 * (logm - 9.5) + rng.normal(0, 0.07, n), 0.02, 0.6), 1.0
    )
    # Sérsic index of the bulge, quantised to 0.5 so GalSim can reuse its profile tables.
    bulge_n = np.where(is_disk, np.round(rng.uniform(1.5, 3.0, n) * 2) / 2, np.round(rng.uniform(3.0, 5.0, n) * 2) / 2)
    # Mass–size relations (Shen et al. 2003-like slopes).
    r50_disk_kpc = 10 ** (0.55 + 0.20 * (logm - 10) + rng.normal(0, 0.10, n))
    r50_ell_kpc = 10 ** (0.40 + 0.55 * (logm - 10.5) + rng.normal(0, 0.10, n))
    r50_bulge_kpc = np.where(is_disk, 0.25 * r50_disk_kpc, r50_ell_kpc)
    cos_i = rng.uniform(size=n)
    # Disks are thin (q0 = 0.15); ellipticals have their own intrinsic flattening.
    axis_ratio = np.where(is_disk, np.sqrt(cos_i**2 * (1 - 0.15**2) + 0.15**2), rng.uniform(0.55, 1.0, n))
    position_angle = rng.uniform(0, np.pi, n)
    return dict(
        is_disk=is_disk, bulge_frac=bulge_frac, bulge_n=bulge_n, r50_disk_kpc=r50_disk_kpc,
        r50_bulge_kpc=r50_bulge_kpc, cos_i=cos_i, incl_deg=np.degrees(np.arccos(cos_i)),
        axis_ratio=axis_ratio, position_angle=position_angle,
    )


def draw_bars(logm, is_disk, r50_disk_kpc, axis_ratio, rng):
    """Bars: likelier in massive disks; length from the disk scale length, seen in projection."""
    n = len(logm)
    p_bar = is_disk * 0.7 / (1 + np.exp(-(logm - 10.0) / 0.3))
    has_bar = rng.uniform(size=n) < p_bar
    h_kpc = r50_disk_kpc / 1.678  # exponential disk: R50 = 1.678 h
    half_length_kpc = h_kpc * rng.uniform(0.7, 1.8, n)
    bar_phi = rng.uniform(0, np.pi, n)  # angle to the line of nodes, in the disk plane
    # The image squashes the disk plane by its (thick-disk) axis ratio, so the bar too.
    projected = half_length_kpc * np.sqrt(np.cos(bar_phi) ** 2 + (np.sin(bar_phi) * axis_ratio) ** 2)
    bar_frac = np.where(has_bar, rng.uniform(0.15, 0.30, n), 0.0)
    return dict(
        has_bar=has_bar, bar_half_length_kpc=np.where(has_bar, half_length_kpc, 0.0),
        bar_phi=bar_phi, bar_length_kpc=np.where(has_bar, 2 * projected, 0.0), bar_frac=bar_frac,
    )


def draw_star_formation(logm, is_disk, cos_i, rng):
    """SFR (main sequence or quenched), dust, metallicity (MZR) with the edge-on fibre bias, AGN."""
    n = len(logm)
    log_sfr = np.where(is_disk, 0.8 * (logm - 10) + 0.1, 0.8 * (logm - 10) - 1.4) + rng.normal(0, 0.3, n)
    # Internal dust: more in massive disks, and rising as the disk is seen edge-on (longer path).
    av_face = np.where(is_disk, np.clip(0.3 + 0.35 * (logm - 10), 0.05, None), 0.05)
    dust_av = av_face * np.where(is_disk, 1 + 1.5 * (1 - cos_i), 1.0)
    oh_true = -1.492 + 1.847 * logm - 0.08026 * logm**2  # Tremonti et al. (2004) MZR
    # Edge-on disks: the fibre sees the dusty, metal-poorer outskirts along the line of sight.
    oh_fibre_bias = -0.18 * (1 - cos_i) * is_disk
    oh_obs = oh_true + oh_fibre_bias + rng.normal(0, 0.04, n)
    p_agn = 0.45 / (1 + np.exp(-(logm - 10.7) / 0.25))
    is_agn = rng.uniform(size=n) < p_agn
    return dict(log_sfr=log_sfr, dust_av=dust_av, oh_true=oh_true, oh_obs=oh_obs, is_agn=is_agn)


def emission_lines(log_sfr, dust_av, oh_obs, is_agn, z, rng):
    """Hα from SFR (Kennicutt 1998), [NII]/Hα from O/H (Pettini & Pagel 2004), BPT positions."""
    n = len(z)
    d_l_cm = COSMOLOGY.luminosity_distance(z).to("cm").value
    l_ha = 10**log_sfr / 7.9e-42
    a_ha = 2.53 / 3.1 * dust_av  # Calzetti k(Hα)/R_V
    f_ha = l_ha / (4 * np.pi * d_l_cm**2) * 10 ** (-0.4 * a_ha) / 1e-17  # SDSS units 1e-17 erg/s/cm²
    # The N2 index saturates near solar metallicity (Pettini & Pagel 2004 is fit below it).
    log_n2 = np.clip((oh_obs - 8.90) / 0.57, -1.5, -0.45)
    log_o3 = np.clip(0.61 / (log_n2 - 0.47) + 1.19 - 0.25 + rng.normal(0, 0.08, n), -1.2, 0.8)
    # Star-forming galaxies stay below the Kauffmann line; AGN hosts lie above it or right of it.
    sf_max = np.where(log_n2 < KAUFFMANN_X_MAX, kauffmann_line(log_n2), 1.0) - 0.15
    log_o3 = np.where(is_agn, log_o3, np.minimum(log_o3, sf_max))
    agn_n2 = rng.uniform(-0.35, 0.35, n)
    agn_line = np.where(agn_n2 < KAUFFMANN_X_MAX, kauffmann_line(np.minimum(agn_n2, 0.0)), -np.inf)
    agn_o3 = np.maximum(rng.uniform(-0.1, 1.0, n), agn_line + rng.uniform(0.05, 0.4, n))
    log_n2 = np.where(is_agn, agn_n2, log_n2)
    log_o3 = np.where(is_agn, agn_o3, log_o3)
    # AGN add line flux of their own, so massive quenched hosts still show lines.
    f_ha = f_ha + is_agn * rng.uniform(50, 400, n)
    f_hb = f_ha / 2.86 * 10 ** (-0.4 * (3.61 - 2.53) / 3.1 * dust_av)
    lines = dict(h_alpha_flux=f_ha, h_beta_flux=f_hb, nii_6584_flux=f_ha * 10**log_n2, oiii_5007_flux=f_hb * 10**log_o3)
    out = {}
    for name, flux in lines.items():
        err = 0.05 * flux + 3.0  # continuum-limited error, as in the MPA-JHU catalogue
        out[name] = flux + rng.normal(0, 1, n) * err
        out[name.replace("_flux", "_flux_err")] = err
    assert np.all(kauffmann_agn(log_n2[is_agn], log_o3[is_agn]))
    return out


def enclosed_radius(fraction, bulge_light, bulge_n, r50_bulge, r50_disk):
    """Radius enclosing `fraction` of the light of bulge (Sérsic n) + disk (n = 1), by bisection."""
    lo, hi = np.zeros_like(r50_disk), 20 * np.maximum(r50_disk, r50_bulge)
    from scipy.special import gammainc

    def light_inside(r):
        b_b, b_d = _sersic_b(bulge_n), _sersic_b(1.0)
        inner_b = gammainc(2 * bulge_n, b_b * (r / r50_bulge) ** (1 / bulge_n))
        inner_d = gammainc(2.0, b_d * r / r50_disk)
        return bulge_light * inner_b + (1 - bulge_light) * inner_d

    for _ in range(50):
        mid = (lo + hi) / 2
        inside = light_inside(mid) < fraction
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return (lo + hi) / 2


def draw_population(n_galaxies, rng) -> pd.DataFrame:
    """All latent variables of `n_galaxies` flux-limited galaxies (one row each)."""
    chunks, have = [], 0
    while have < n_galaxies:
        z, logm = draw_intrinsic(4 * n_galaxies, rng, Z_RANGE, LOGM_RANGE, SCHECHTER_LOGM, SCHECHTER_ALPHA)
        # Flux limit on an approximate r magnitude (M/L_r ≈ 3.5, the mean of `photometry`); the exact
        # photometry follows in `photometry` and the limit is re-applied there loosely.
        m_r = 4.65 - 2.5 * (logm - 0.55) + COSMOLOGY.distmod(z).value
        keep = m_r < MAG_LIMIT
        chunks.append(pd.DataFrame({"z": z[keep], "log_mstar": logm[keep]}))
        have += keep.sum()
    pop = pd.concat(chunks, ignore_index=True).iloc[:n_galaxies].reset_index(drop=True)
    z, logm = pop["z"].to_numpy(), pop["log_mstar"].to_numpy()
    s = draw_structure(logm, rng)
    b = draw_bars(logm, s["is_disk"], s["r50_disk_kpc"], s["axis_ratio"], rng)
    sf = draw_star_formation(logm, s["is_disk"], s["cos_i"], rng)
    lines = emission_lines(sf["log_sfr"], sf["dust_av"], sf["oh_obs"], sf["is_agn"], z, rng)
    pop = pop.assign(**s, **b, **sf, **lines)
    kpc_per_arcsec = COSMOLOGY.kpc_proper_per_arcmin(z).value / 60
    for name in ["r50_disk", "r50_bulge", "bar_length", "bar_half_length"]:
        pop[f"{name}_arcsec"] = pop[f"{name}_kpc"] / kpc_per_arcsec
    pop["ebv"] = np.exp(rng.normal(np.log(0.03), 0.6, len(pop)))
    return pop


def sed_tables(z_grid):
    """Observer-frame colours m_b − m_r and r-band K-corrections of GalSim's CWW templates.

    Rows: bulge/bar (E), disk (Sbc), star-forming clumps (Im). Computed once on a redshift grid
    through the LSST u g r i z bandpasses shipped with GalSim (close to SDSS's).
    """
    import galsim

    bandpasses = [galsim.Bandpass(f"LSST_{b}.dat", wave_type="nm").withZeropoint("AB") for b in BANDS]
    colours, kcorr = [], []
    for name in ["CWW_E_ext.sed", "CWW_Sbc_ext.sed", "CWW_Im_ext.sed"]:
        sed = galsim.SED(name, wave_type="Ang", flux_type="flambda")
        mags = np.array([[sed.atRedshift(z).calculateMagnitude(bp) for bp in bandpasses] for z in z_grid])
        colours.append(mags - mags[:, [2]])
        kcorr.append(mags[:, 2] - mags[0, 2])
    return np.array(colours), np.array(kcorr)  # [3, nz, 5], [3, nz]


COMPONENTS = ["bulge", "disk", "bar", "arms"]
_TEMPLATE_OF = {"bulge": 0, "disk": 1, "bar": 0, "arms": 2}


def photometry(pop: pd.DataFrame, rng, noise_scale: float = 1.0, arms_frac: float = ARMS_FRAC) -> pd.DataFrame:
    """Per-component fluxes (nanomaggies) and the survey catalogue columns of every galaxy.

    `noise_scale` scales the sky noise as in the images (render.py), so the catalogue errors are
    those of the same pixels.
    """
    n = len(pop)
    z, logm, B = pop["z"].to_numpy(), pop["log_mstar"].to_numpy(), pop["bulge_frac"].to_numpy()
    z_grid = np.linspace(0.0, 0.4, 41)
    colours, kcorr = sed_tables(z_grid)
    log_ml_r = 0.25 + 0.35 * B + rng.normal(0, 0.05, n)
    abs_r = 4.65 - 2.5 * (logm - log_ml_r)
    dm = COSMOLOGY.distmod(z).value
    rest = 1 - B
    bar = pop["bar_frac"].to_numpy() * rest
    arms = np.where(pop["is_disk"], arms_frac, 0.0) * rest
    light = {"bulge": B, "disk": rest - bar - arms, "bar": bar, "arms": arms}
    a_int = pop["dust_av"].to_numpy()[:, None] * A_BAND_OVER_AV
    a_gal = pop["ebv"].to_numpy()[:, None] * R_GALACTIC
    out = {}
    total = np.zeros((n, 5))
    for comp in COMPONENTS:
        t = _TEMPLATE_OF[comp]
        col = np.stack([np.interp(z, z_grid, colours[t, :, b]) for b in range(5)], axis=1)
        k = np.interp(z, z_grid, kcorr[t])
        dust = a_int * (0.5 if comp == "bulge" else 1.0)
        with np.errstate(divide="ignore"):
            m = (abs_r - 2.5 * np.log10(light[comp]) + dm + k)[:, None] + col + dust + a_gal
        flux = np.where(light[comp][:, None] > 0, 10 ** (-0.4 * (m - 22.5)), 0.0)
        total += flux
        for b, band in enumerate(BANDS):
            out[f"flux_{comp}_{band}"] = flux[:, b]
    mag_true = 22.5 - 2.5 * np.log10(total)
    bulge_light = np.stack([out[f"flux_bulge_{b}"] for b in BANDS], 1) / total
    # Noise-free half-light radius per band (arcsec): the photometric aperture and, with scatter, petroR50.
    profile = (pop["bulge_n"].to_numpy(), pop["r50_bulge_arcsec"].to_numpy(), pop["r50_disk_arcsec"].to_numpy())
    r50 = np.stack([enclosed_radius(0.5, bulge_light[:, b], *profile) for b in range(len(BANDS))], 1)
    err = np.sqrt(MAG_ERR_FLOOR**2 + sky_mag_error(total, r50 * petro_concentration(bulge_light), noise_scale) ** 2)
    mag = mag_true + rng.normal(0, 1, (n, 5)) * err
    q_bulge = np.where(pop["is_disk"], 0.8, pop["axis_ratio"])
    for b, band in enumerate(BANDS):
        out[f"petroMag_{band}"] = mag[:, b]
        out[f"petroMagErr_{band}"] = err[:, b]
        out[f"petroFlux_{band}"] = 10 ** (-0.4 * (mag[:, b] - 22.5))
        out[f"petroR50_{band}"] = r50[:, b] * np.exp(rng.normal(0, 0.03, n))
        out[f"petroR90_{band}"] = out[f"petroR50_{band}"] * petro_concentration(bulge_light[:, b]) * np.exp(rng.normal(0, 0.03, n))
        out[f"Sersic_n_{band}"] = np.clip(1 + 3 * bulge_light[:, b] + rng.normal(0, 0.2, n), 0.5, 6.0)
        q = bulge_light[:, b] * q_bulge + (1 - bulge_light[:, b]) * pop["axis_ratio"].to_numpy()
        out[f"expAB_{band}"] = np.clip(q + rng.normal(0, 0.02, n), 0.05, 1.0)
    out.update(wise(pop, dm, rng))
    return pd.DataFrame(out, index=pop.index)


def petro_concentration(bulge_light):
    """Petrosian R90 / R50: set by the Petrosian aperture, not the profile's far wings, it runs from
    2.3 (exponential) to 3.1 (de Vaucouleurs) as in SDSS."""
    return 2.3 + 0.8 * bulge_light


def sky_mag_error(flux, r90_arcsec, noise_scale=1.0) -> np.ndarray:
    """[n, 5] magnitude error of Petrosian photometry from the sky noise of the image pixels.

    The catalogue is measured on the same pixels the images show: the sky noise per pixel, summed
    over the Petrosian aperture (PETRO_APERTURE_OVER_R90 × the noise-free Petrosian R90 per band), over
    the flux. The faint u and z bands come out uncertain (tens of per cent), as in SDSS.
    """
    n_pixels = np.pi * (PETRO_APERTURE_OVER_R90 * r90_arcsec / SDSS_PIXEL_ARCSEC) ** 2
    sigma_flux = SKY_SIGMA * noise_scale * np.sqrt(n_pixels)
    return 2.5 / np.log(10) * sigma_flux / flux


def wise(pop, dm, rng):
    """WISE magnitudes (Vega): W1/W2 trace stellar mass, W1−W2 flags AGN, W3 traces star formation."""
    n = len(pop)
    logm, is_agn = pop["log_mstar"].to_numpy(), pop["is_agn"].to_numpy()
    w1 = 15.0 - 2.5 * (logm - 10.5) + (dm - 38.3) + rng.normal(0, 0.03, n)
    w2 = w1 + np.where(is_agn, 0.35, -0.05) + rng.normal(0, 0.04, n)
    log_ssfr = pop["log_sfr"].to_numpy() - logm
    w3 = w1 - np.clip(2.0 + 1.3 * (log_ssfr + 10.5), 0.5, 5.0) + rng.normal(0, 0.1, n)
    w1sig = 0.02 + 0.01 * np.exp(w1 - 15)
    w2sig = 0.03 + 0.015 * np.exp(w2 - 15)
    # W3 is shallow: faint passive galaxies are not detected (null sentinel, as the survey).
    w3 = np.where(w3 > 13.8, 9999.0, w3)
    return dict(w1mpro=w1, w2mpro=w2, w3mpro=w3, w1sigmpro=w1sig, w2sigmpro=w2sig)
