"""The causal model of the simulated universe: every latent and observed catalogue quantity.

Arrows (each a function below, in the order they are drawn):
    z ──► flux limit ◄── M*            (selection correlates observed M* and z)
    M* ──► disk / elliptical, bulge fraction, size, bar, SFR, metallicity
    M*, bulge fraction, sSFR ──► AGN, its class (Seyfert / LINER), [OIII] luminosity
    AGN [OIII] luminosity ──► BPT position, line-flux boost, nuclear point source, WISE hot dust
    M*, sSFR (age) ──► W1−W2 ──► M*/L_W1; dust, K-correction ──► W1  (`wise`)
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
    """SFR (main sequence or quenched), dust, metallicity (MZR) with the edge-on fibre bias."""
    n = len(logm)
    log_sfr = np.where(is_disk, 0.8 * (logm - 10) + 0.1, 0.8 * (logm - 10) - 1.4) + rng.normal(0, 0.3, n)
    # Internal dust: more in massive disks, and rising as the disk is seen edge-on (longer path).
    av_face = np.where(is_disk, np.clip(0.3 + 0.35 * (logm - 10), 0.05, None), 0.05)
    dust_av = av_face * np.where(is_disk, 1 + 1.5 * (1 - cos_i), 1.0)
    oh_true = -1.492 + 1.847 * logm - 0.08026 * logm**2  # Tremonti et al. (2004) MZR
    # Edge-on disks: the fibre sees the dusty, metal-poorer outskirts along the line of sight.
    oh_fibre_bias = -0.18 * (1 - cos_i) * is_disk
    oh_obs = oh_true + oh_fibre_bias + rng.normal(0, 0.04, n)
    return dict(log_sfr=log_sfr, dust_av=dust_av, oh_true=oh_true, oh_obs=oh_obs)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# AGN hosts (Kauffmann et al. 2003, MNRAS 346, 1055; Heckman & Best 2014, ARA&A 52, 589): the
# fraction of SDSS emission-line galaxies that host an AGN is a few per cent below 10^10 M☉ and
# rises steeply above 10^10.5 M☉ (to ~0.4-0.8 of the massive ones), in bulge-dominated hosts
# (high concentration, large σ, i.e. a massive black hole). Among early types AGN sit in the green
# valley, between the blue cloud and the red sequence (Schawinski et al. 2007, MNRAS 382, 1415;
# 2010, ApJ 711, 284), not in the fully quenched red sequence. Logistic model:
#   logit p = AGN_P0 + AGN_P_LOGM·(log M* − 10.8) + AGN_P_BULGE·(B − 0.5) + AGN_P_GV·gv(sSFR),
#   gv = exp(−½((log sSFR − AGN_GV_SSFR)/AGN_GV_WIDTH)²).
# Tuned so the overall fraction stays ~0.23 (the previous mass-only model's 0.24); measured on 2000
# drawn galaxies: 0.00 (<10^10), 0.04 (10^10-10^10.5), 0.18 (10^10.5-10^11), 0.49 (>10^11) and, above
# 10^10.5, 0.07 for B < 0.2 against 0.46 for ellipticals.
AGN_P0, AGN_P_LOGM, AGN_P_BULGE, AGN_P_GV = -2.2, 2.8, 1.6, 1.3
AGN_GV_SSFR, AGN_GV_WIDTH = -10.9, 0.5
# Seyfert / LINER split (Kewley et al. 2006, MNRAS 372, 961): LINERs in older, more quenched,
# more massive hosts with low Eddington ratio; Seyferts in younger hosts at higher Eddington ratio.
#   logit P(Seyfert) = SEY_SSFR·(log sSFR − AGN_GV_SSFR) − SEY_LOGM·(log M* − 10.8)
SEY_SSFR, SEY_LOGM = 2.0, 1.5
# [OIII]5007 luminosity (erg/s): Seyferts ~10^40.5, LINERs ~10^39.5 in SDSS (Heckman et al. 2004,
# ApJ 613, 109; Kewley 2006), growing with the black-hole mass (∝ bulge / host mass).
LOG_L_OIII_LINER, LOG_L_OIII_SEYFERT_OFFSET, LOG_L_OIII_LOGM, LOG_L_OIII_SCATTER = 39.5, 0.9, 0.7, 0.35
# Type-1-like (unobscured) nuclei among Seyferts: the broad-line fraction rises with the [OIII]
# luminosity, from ~0.2-0.3 at 10^40 to ~0.5-0.7 above 10^41.5 erg/s (Hao et al. 2005, AJ 129,
# 1783; the receding torus, Simpson 2005). LINERs: none (their nuclei are faint, and Simmons et al.
# 2011/2013 find bright point sources mostly in luminous Seyfert-like AGN).
TYPE1_FLOOR, TYPE1_RISE, TYPE1_LOG_L, TYPE1_WIDTH = 0.3, 0.5, 41.0, 0.4
# Nuclear continuum: L_bol ≈ 3500 L[OIII] (Heckman et al. 2004) and a bolometric correction of ~10
# at 5100 Å (Richards et al. 2006) give νL_ν(5100 Å) ≈ 350 L[OIII], 0.3 dex scatter. Spectrum
# f_ν ∝ ν^−0.5 (the usual optical quasar slope, Vanden Berk et al. 2001: α_ν ≈ −0.44).
NUC_OVER_OIII, NUC_SCATTER, NUC_ALPHA_NU = 350.0, 0.3, -0.5
# A nucleus brighter than ~1/3 of its host makes SDSS target the object as a QSO, not as a main-
# sample galaxy (and MPA-JHU drops broad-line-dominated spectra): the observed r-band nucleus /
# host ratio is capped at NUC_MAX_RATIO (share ≤ 23 %). Measured: median r-band share 13 % of the
# nucleated AGN (10-90 %: 2-23 %): the central 3x3 pixels 1.2-2.8x brighter, not a star-like object.
NUC_MAX_RATIO = 0.3
# SDSS effective wavelengths (Å), for the power-law colours of the nucleus.
BAND_WAVELENGTH = np.array([3551.0, 4686.0, 6166.0, 7480.0, 8932.0])


def draw_agn(logm, bulge_frac, log_sfr, rng):
    """Which hosts hold an AGN, its class, [OIII] luminosity and whether its nucleus is seen.

    Every relation conditions on the host (mass, bulge fraction, specific SFR): see the constants.
    """
    n = len(logm)
    log_ssfr = log_sfr - logm
    gv = np.exp(-0.5 * ((log_ssfr - AGN_GV_SSFR) / AGN_GV_WIDTH) ** 2)
    p_agn = _sigmoid(AGN_P0 + AGN_P_LOGM * (logm - 10.8) + AGN_P_BULGE * (bulge_frac - 0.5) + AGN_P_GV * gv)
    is_agn = rng.uniform(size=n) < p_agn
    p_sey = _sigmoid(SEY_SSFR * (log_ssfr - AGN_GV_SSFR) - SEY_LOGM * (logm - 10.8))
    is_seyfert = is_agn & (rng.uniform(size=n) < p_sey)
    log_l_oiii = (LOG_L_OIII_LINER + LOG_L_OIII_SEYFERT_OFFSET * is_seyfert + LOG_L_OIII_LOGM * (logm - 10.8)
                  + rng.normal(0, LOG_L_OIII_SCATTER, n))
    p_type1 = TYPE1_FLOOR + TYPE1_RISE * _sigmoid((log_l_oiii - TYPE1_LOG_L) / TYPE1_WIDTH)
    has_nucleus = is_seyfert & (rng.uniform(size=n) < p_type1)
    log_nuc = np.log10(NUC_OVER_OIII) + log_l_oiii + rng.normal(0, NUC_SCATTER, n)  # νL_ν(5100 Å), erg/s
    return dict(
        is_agn=is_agn, is_seyfert=is_seyfert, log_l_oiii=np.where(is_agn, log_l_oiii, np.nan),
        has_nuclear_source=has_nucleus, log_nuc_5100=np.where(has_nucleus, log_nuc, np.nan),
    )


def emission_lines(log_sfr, dust_av, oh_obs, agn, z, rng):
    """Hα from SFR (Kennicutt 1998), [NII]/Hα from O/H (Pettini & Pagel 2004), BPT positions.

    `agn`: the dict of `draw_agn`. AGN sit on the AGN branch by class (Kewley et al. 2006):
    Seyferts high in [OIII]/Hβ (rising with L[OIII], i.e. Eddington ratio), LINERs low in
    [OIII]/Hβ and high in [NII]/Hα, below the Seyfert/LINER line of Schawinski et al. (2007),
    log([OIII]/Hβ) = 1.05 log([NII]/Hα) + 0.45. The AGN's Hα follows from its L[OIII].
    """
    n = len(z)
    is_agn, is_sey = agn["is_agn"], agn["is_seyfert"]
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
    l_oiii = np.nan_to_num(agn["log_l_oiii"], nan=0.0)
    sey_n2 = np.clip(rng.normal(-0.05, 0.15, n), -0.4, 0.35)
    sey_o3 = np.clip(0.6 + 0.3 * (l_oiii - 40.4) + rng.normal(0, 0.12, n), 0.3, 1.2)
    sey_o3 = np.maximum(sey_o3, 1.05 * sey_n2 + 0.55)  # above the Seyfert/LINER line
    lin_n2 = np.clip(rng.normal(0.12, 0.12, n), -0.15, 0.45)
    lin_o3 = np.clip(rng.normal(0.05, 0.15, n), -0.4, 1.05 * lin_n2 + 0.35)  # below it
    agn_n2 = np.where(is_sey, sey_n2, lin_n2)
    agn_o3 = np.where(is_sey, sey_o3, lin_o3)
    # Keep every AGN clear of the Kauffmann line (the observed lines scatter by 5 % + 3e-17).
    agn_line = np.where(agn_n2 < KAUFFMANN_X_MAX, kauffmann_line(np.minimum(agn_n2, 0.0)), -np.inf)
    agn_o3 = np.maximum(agn_o3, agn_line + 0.1)
    log_n2 = np.where(is_agn, agn_n2, log_n2)
    log_o3 = np.where(is_agn, agn_o3, log_o3)
    # AGN add line flux of their own (so massive quenched hosts still show lines): Hβ = L[OIII] /
    # ([OIII]/Hβ), Hα = 2.86 Hβ (case B), through the host's dust. The mixture's ratios are the AGN's.
    l_ha_agn = np.where(is_agn, 2.86 * 10 ** (l_oiii - log_o3), 0.0)
    f_ha = f_ha + l_ha_agn / (4 * np.pi * d_l_cm**2) * 10 ** (-0.4 * a_ha) / 1e-17
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
    agn = draw_agn(logm, s["bulge_frac"], sf["log_sfr"], rng)
    lines = emission_lines(sf["log_sfr"], sf["dust_av"], sf["oh_obs"], agn, z, rng)
    pop = pop.assign(**s, **b, **sf, **agn, **lines)
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


COMPONENTS = ["bulge", "disk", "bar", "arms", "nucleus"]
_TEMPLATE_OF = {"bulge": 0, "disk": 1, "bar": 0, "arms": 2}


def nucleus_abs_r(pop: pd.DataFrame) -> np.ndarray:
    """Rest-frame r-band AB absolute magnitude of the nuclear point source (inf where none).

    νL_ν(5100 Å) of `draw_agn` moved to r along f_ν ∝ ν^NUC_ALPHA_NU (`photometry` caps it).
    """
    nu_r, nu_5100 = 2.998e18 / BAND_WAVELENGTH[2], 2.998e18 / 5100.0
    has = pop["has_nuclear_source"].to_numpy() if "has_nuclear_source" in pop else np.zeros(len(pop), bool)
    log_nu_l = np.nan_to_num(pop["log_nuc_5100"].to_numpy(), nan=0.0) if has.any() else np.zeros(len(pop))
    log_nu_l_r = log_nu_l + (1 + NUC_ALPHA_NU) * np.log10(nu_r / nu_5100)
    four_pi_10pc2 = 4 * np.pi * (10 * 3.0857e18) ** 2
    m_nuc = -2.5 * (log_nu_l_r - np.log10(nu_r) - np.log10(four_pi_10pc2)) - 48.6
    return np.where(has, m_nuc, np.inf)


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
    for comp in COMPONENTS[:4]:
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
    # The nuclear point source (type-1-like AGN): a power law f_ν ∝ ν^α, so its colour is
    # m_b − m_r = 2.5 α log10(λ_b / λ_r) and its K-correction −2.5 (1 + α) log10(1 + z); seen
    # through its host's disk dust (many SDSS type-1 Seyferts are reddened, types 1.8/1.9) and the
    # Milky Way. The observed r-band nucleus / host ratio is capped at NUC_MAX_RATIO.
    m_nuc = nucleus_abs_r(pop)
    nuc_col = 2.5 * NUC_ALPHA_NU * np.log10(BAND_WAVELENGTH / BAND_WAVELENGTH[2])
    k_nuc = -2.5 * (1 + NUC_ALPHA_NU) * np.log10(1 + z)
    has_nuc = np.isfinite(m_nuc)
    m = (np.where(has_nuc, m_nuc, 99.0) + dm + k_nuc)[:, None] + nuc_col + a_int + a_gal
    flux = np.where(has_nuc[:, None], 10 ** (-0.4 * (m - 22.5)), 0.0)
    flux *= np.minimum(1.0, NUC_MAX_RATIO * total[:, [2]] / np.maximum(flux[:, [2]], 1e-30))
    total += flux
    for b, band in enumerate(BANDS):
        out[f"flux_nucleus_{band}"] = flux[:, b]
    out["nuclear_frac_r"] = flux[:, 2] / total[:, 2]
    mag_true = 22.5 - 2.5 * np.log10(total)
    # The nucleus is the most concentrated light: it counts with the bulge for the radii.
    bulge_light = np.stack([out[f"flux_bulge_{b}"] + out[f"flux_nucleus_{b}"] for b in BANDS], 1) / total
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


# WISE (Vega magnitudes). Stellar W1 from a mass-to-light ratio that depends on the population:
# - Host rest-frame W1−W2: ≈ −0.05 for old populations, redder (up to ~+0.1) with star formation
#   (warm dust and the 3.3 µm PAH feature; Jarrett et al. 2011, ApJ 735, 112; Cluver et al. 2014):
#   W12_OLD + W12_SLOPE · clip(log sSFR − W12_SSFR0, 0, 2) + N(0, W12_SCATTER).
# - log M*/L_W1 = −2.54 (W1−W2) − 0.17 (Cluver et al. 2014, ApJ 782, 90), i.e. Υ ≈ 0.9 for old and
#   ≈ 0.5-0.6 for star-forming populations, as McGaugh & Schombert (2015, ApJ 802, 18) and Meidt et al.
#   (2014, ApJ 788, 144: Υ_3.6 ≈ 0.6 with ~0.1 dex scatter) find; ML_W1_SCATTER = 0.1 dex at fixed colour.
# - W1 of the Sun: 3.24 mag (Jarrett et al. 2013, AJ 145, 6).
W12_OLD, W12_SLOPE, W12_SSFR0, W12_SCATTER = -0.05, 0.06, -11.0, 0.03
CLUVER_SLOPE, CLUVER_ZP, ML_W1_SCATTER = -2.54, -0.17, 0.10
M_SUN_W1 = 3.24
# Dust: internal A_W1 ≈ 0.06 A_V, A_W2 ≈ 0.05 A_V (A_3.6/A_K = 0.56, A_4.5/A_K = 0.43, Indebetouw et
# al. 2005, ApJ 619, 931, with A_K/A_V = 0.11); Galactic R_W1 = 0.18, R_W2 = 0.16 per E(B−V) (Yuan,
# Liu & Xiang 2013, MNRAS 430, 2188).
A_W1_OVER_AV, A_W2_OVER_AV, R_W1, R_W2 = 0.06, 0.05, 0.18, 0.16
# K-corrections (z ≤ 0.25), power-law approximation K = −2.5 (1 + α) log10(1 + z): stars past the
# 1.6 µm H⁻ peak have f_ν ∝ ν^α with α ≈ 1.5 between K and W1 (an old population's K − W1 ≈ 0.1 Vega
# with AB offsets 1.85 and 2.70, Jarrett et al. 2011) and α ≈ 2 (Rayleigh-Jeans) in W2: K_W1 ≈ −0.26
# mag at z = 0.1. AGN hot dust: f_ν ∝ ν^−1.7, Vega W1−W2 ≈ 1.2 (Stern et al. 2012, ApJ 753, 30).
ALPHA_STARS_W1, ALPHA_STARS_W2, ALPHA_AGN_MIR = 1.5, 2.0, -1.7
AGN_W1_W2 = 1.2
# AGN hot dust luminosity: νL_ν(4.6 µm) ≈ 0.1 L_bol ≈ 350 L[OIII] (L_bol ≈ 3500 L[OIII], Heckman et al.
# 2004; the torus re-emits ~10-30 % of L_bol, mostly at 1-20 µm, near-isotropically so type 2 too),
# 0.3 dex scatter. Only the luminous AGN reach the Stern et al. (2012) W1−W2 ≥ 0.8 cut, a few per cent
# of the optical (BPT) AGN as in SDSS.
AGN_MIR_OVER_OIII, AGN_MIR_SCATTER = 350.0, 0.3
# Vega zero points (Jy) of W1 / W2 (Jarrett et al. 2011) and the W2 frequency.
W1_ZERO_JY, W2_ZERO_JY, NU_W2 = 309.54, 171.79, 2.998e14 / 4.6


def wise(pop, dm, rng):
    """WISE magnitudes (Vega): W1 = M*/Υ(colour) with dust and K-correction, W1−W2 flags AGN hot dust,
    W3 traces star formation. Also the truth columns `log_ml_w1` (stellar) and `agn_w2_frac`."""
    n = len(pop)
    logm, z = pop["log_mstar"].to_numpy(), pop["z"].to_numpy()
    log_ssfr = pop["log_sfr"].to_numpy() - logm
    dust_av, ebv = pop["dust_av"].to_numpy(), pop["ebv"].to_numpy()
    w12_host = W12_OLD + W12_SLOPE * np.clip(log_ssfr - W12_SSFR0, 0, 2) + rng.normal(0, W12_SCATTER, n)
    log_ml = CLUVER_SLOPE * w12_host + CLUVER_ZP + rng.normal(0, ML_W1_SCATTER, n)
    abs_w1 = M_SUN_W1 - 2.5 * (logm - log_ml)
    log1z = np.log10(1 + z)
    w1_host = abs_w1 + dm - 2.5 * (1 + ALPHA_STARS_W1) * log1z + A_W1_OVER_AV * dust_av + R_W1 * ebv
    w2_host = (abs_w1 - w12_host + dm - 2.5 * (1 + ALPHA_STARS_W2) * log1z + A_W2_OVER_AV * dust_av + R_W2 * ebv)
    # AGN hot dust (all AGN; the torus emission is near-isotropic).
    is_agn = pop["is_agn"].to_numpy()
    l_oiii = np.nan_to_num(pop["log_l_oiii"].to_numpy(), nan=0.0) if "log_l_oiii" in pop else np.zeros(n)
    log_nu_l = np.log10(AGN_MIR_OVER_OIII) + l_oiii + rng.normal(0, AGN_MIR_SCATTER, n)
    l_nu_w2 = 10 ** (log_nu_l - np.log10(NU_W2))
    abs_w2_agn = -2.5 * np.log10(l_nu_w2 / (4 * np.pi * (10 * 3.0857e18) ** 2 * W2_ZERO_JY * 1e-23))
    w2_agn = abs_w2_agn + dm - 2.5 * (1 + ALPHA_AGN_MIR) * log1z
    f2_agn = np.where(is_agn, 10 ** (-0.4 * w2_agn), 0.0)
    f1_agn = f2_agn * 10 ** (-0.4 * AGN_W1_W2)
    f1, f2 = 10 ** (-0.4 * w1_host) + f1_agn, 10 ** (-0.4 * w2_host) + f2_agn
    w1_true, w2_true = -2.5 * np.log10(f1), -2.5 * np.log10(f2)
    w1sig = 0.02 + 0.01 * np.exp(w1_true - 15)
    w2sig = 0.03 + 0.015 * np.exp(w2_true - 15)
    w1 = w1_true + rng.normal(0, 1, n) * w1sig
    w2 = w2_true + rng.normal(0, 1, n) * w2sig
    # W3 traces the star formation of the host (relative to its stellar W1).
    w3 = w1_host - np.clip(2.0 + 1.3 * (log_ssfr + 10.5), 0.5, 5.0) + rng.normal(0, 0.1, n)
    # W3 is shallow: faint passive galaxies are not detected (null sentinel, as the survey).
    w3 = np.where(w3 > 13.8, 9999.0, w3)
    return dict(w1mpro=w1, w2mpro=w2, w3mpro=w3, w1sigmpro=w1sig, w2sigmpro=w2sig,
                log_ml_w1=log_ml, agn_w2_frac=f2_agn / f2)
