"""The simulated AGN leave a mark (host, BPT branch, nucleus in the image) and W1 has a real M/L (issue 20)."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from galaxy_xai.data.population import COSMOLOGY, NUC_MAX_RATIO, SKY_SIGMA, draw_population, photometry


@pytest.fixture(scope="module")
def pop():
    """3000 galaxies with photometry, no images (~1 s)."""
    rng = np.random.default_rng(11)
    p = draw_population(3000, rng)
    return p.join(photometry(p, rng))


def _fraction(mask, where):
    return mask[where].mean()


def test_agn_fraction_rises_with_mass_and_bulge_fraction(pop):
    agn, m, b = pop["is_agn"].to_numpy(), pop["log_mstar"].to_numpy(), pop["bulge_frac"].to_numpy()
    assert 0.15 < agn.mean() < 0.32  # comparable to the mass-only model's 0.24
    by_mass = [_fraction(agn, (m >= lo) & (m < hi)) for lo, hi in [(8.5, 10.3), (10.3, 10.8), (10.8, 11.2), (11.2, 13)]]
    assert all(np.diff(by_mass) > 0), by_mass
    assert by_mass[0] < 0.08 and by_mass[-1] > 0.35  # Kauffmann et al. 2003: rare below 10^10, common above 10^11
    # at fixed (high) mass, bulge-dominated hosts are likelier AGN than disk-dominated ones
    massive = (m > 10.6) & (m < 11.2)
    assert _fraction(agn, massive & (b > 0.5)) > _fraction(agn, massive & (b < 0.25)) + 0.1


def test_agn_sit_on_their_bpt_branch_by_host(pop):
    agn, sey = pop["is_agn"].to_numpy(), pop["is_seyfert"].to_numpy()
    liner = agn & ~sey
    assert sey.sum() > 50 and liner.sum() > 50 and not (sey & ~agn).any()
    ssfr = (pop["log_sfr"] - pop["log_mstar"]).to_numpy()
    # LINERs in older (more quenched), more massive hosts than Seyferts (Kewley et al. 2006)
    assert np.median(ssfr[liner]) < np.median(ssfr[sey]) - 0.5
    assert np.median(pop["log_mstar"][liner]) > np.median(pop["log_mstar"][sey])
    # ... and low [OIII]/Hβ where the lines are measured well
    lines = ["nii_6584", "h_alpha", "oiii_5007", "h_beta"]
    strong = np.all([pop[f"{l}_flux"] / pop[f"{l}_flux_err"] > 10 for l in lines], axis=0)
    o3 = np.log10(np.clip(pop["oiii_5007_flux"] / pop["h_beta_flux"], 1e-3, None)).to_numpy()
    assert np.median(o3[strong & liner]) < np.median(o3[strong & sey]) - 0.3
    # the observed Kauffmann labels (what the SFNet SVM uses) find the well-measured AGN
    from galaxy_xai.data.lines import agn_labels

    logs = [np.log10(np.clip(pop[f"{l}_flux"], 1e-3, None)) for l in lines]
    labels = agn_labels(*logs)
    assert labels[strong & agn].mean() > 0.9 and (~labels[strong & ~agn]).mean() > 0.9


def test_nuclear_sources_are_in_luminous_seyferts_and_visible_not_dominant(pop):
    nuc = pop["has_nuclear_source"].to_numpy()
    assert not (nuc & ~pop["is_seyfert"].to_numpy()).any()
    assert 0.01 < nuc.mean() < 0.1 and 0.05 < nuc[pop["is_agn"]].mean() < 0.3
    share = pop["nuclear_frac_r"].to_numpy()
    assert (share[~nuc] == 0).all()
    assert share[nuc].max() <= NUC_MAX_RATIO / (1 + NUC_MAX_RATIO) + 1e-9
    assert 0.03 < np.median(share[nuc]) < 0.2
    l_oiii = pop["log_l_oiii"].to_numpy()
    assert np.median(l_oiii[nuc]) > np.median(l_oiii[pop["is_seyfert"].to_numpy() & ~nuc])
    # the nucleus (f_ν ∝ ν^-0.5, through the same dust) is bluer than its host's bulge
    def g_r(comp):
        return -2.5 * np.log10(pop[f"flux_{comp}_g"][nuc] / pop[f"flux_{comp}_r"][nuc])

    assert (g_r("nucleus") < g_r("bulge") - 0.2).all()


def test_w1_has_a_colour_dependent_mass_to_light_ratio(pop):
    m = pop["log_mstar"].to_numpy()
    w1 = pop["w1mpro"].to_numpy() - COSMOLOGY.distmod(pop["z"].to_numpy()).value + 2.5 * m
    resid = w1 - np.polyval(np.polyfit(m, w1, 1), m)
    assert resid.std() > 0.08 * 2.5  # > 0.08 dex of M/L at fixed mass (was 0.03 mag)
    assert resid.std() < 0.25 * 2.5
    quiet = ~pop["is_agn"].to_numpy()
    w12 = (pop["w1mpro"] - pop["w2mpro"]).to_numpy()
    # redder W1-W2 (younger) = lower M/L = brighter W1 at fixed mass (Cluver et al. 2014)
    assert np.corrcoef(resid[quiet], w12[quiet])[0, 1] < -0.3
    ssfr = (pop["log_sfr"] - pop["log_mstar"]).to_numpy()
    assert np.corrcoef(resid, ssfr)[0, 1] < -0.15
    # luminous AGN (and only AGN) reach the Stern et al. (2012) cut W1-W2 >= 0.8
    assert (w12[quiet] < 0.8).all() and (w12[~quiet] >= 0.8).sum() > 5


def _twin(pop):
    """A nucleated AGN and the same galaxy (same seed, same noise) without its nucleus."""
    nuc = pop[pop["has_nuclear_source"] & (pop["nuclear_frac_r"] > 0.05)]
    g = nuc.iloc[0].to_dict()
    g["seed"] = 123
    twin = dict(g, has_nuclear_source=False)
    return g, twin


def test_nucleus_brightens_the_centre_of_the_image_only(pop, simulate_cfg):
    from galaxy_xai.data.render import render_galaxy

    cfg = replace(simulate_cfg, stamp_size=32, gz_size=32)
    g, twin = _twin(pop)
    with_nuc, _, sdss_rgb, _ = render_galaxy(g, cfg)
    without, _, _, _ = render_galaxy(twin, cfg)
    r = 2
    diff = (with_nuc - without)[r].astype(np.float64)
    c = cfg.stamp_size // 2
    centre = diff[c - 1 : c + 2, c - 1 : c + 2].sum()
    # the PSF (FWHM ~1.4" = 3.5 px) puts ~40-60 % of the nucleus flux in the central 3x3 pixels
    assert centre > 0.3 * g["flux_nucleus_r"]
    sky = SKY_SIGMA[r] * cfg.noise_scale
    assert diff[c, c] > 5 * sky
    # central surface brightness up by at least 10 % of the galaxy's
    assert with_nuc[r, c - 1 : c + 2, c - 1 : c + 2].sum() > 1.1 * without[r, c - 1 : c + 2, c - 1 : c + 2].sum()
    # outskirts: equal within a fraction of the sky noise (same noise realisation, PSF wings only)
    yy, xx = np.mgrid[: cfg.stamp_size, : cfg.stamp_size]
    far = np.hypot(yy - c, xx - c) > 8
    assert np.abs(diff[far]).max() < 0.2 * sky
    assert sdss_rgb.shape[:2] == (32, 32)
