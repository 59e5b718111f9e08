"""Write one simulated population in the three real survey layouts (SPEC §1.1) plus a truth table."""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from galaxy_xai.data.formats import PHOTOMETRY_STEMS, SDSS_COLUMNS, WISE_KEYS
from galaxy_xai.data.lines import kauffmann_agn
from galaxy_xai.data.population import draw_population, photometry
from galaxy_xai.data.render import render_galaxy
from galaxy_xai.domain import BANDS, GZ_QUESTIONS, VOTE_COLUMNS
from galaxy_xai.io import atomic_path

log = logging.getLogger(__name__)

# Ids in the real surveys' styles; one galaxy carries one id per survey.
GALAXY_ID0, GZ2_OBJID0, ASSET_ID0, SDSS_OBJID0 = 100008, 587722981741363200, 1, 1237648720693755000
# How the universe is written (not params): JPEG quality, the stellar-mass train / validation /
# test shares, the scatter of the human bar lengths (dex-like, log-normal) and of the votes.
JPEG_QUALITY = 95
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
BAR_SCATTER = 0.15
VOTE_NOISE = 0.05


def _dirichlet_mean(rng, mean, concentration):
    """Noisy fractions around `mean` (rows sum to 1): what a few dozen volunteers would give."""
    alpha = np.clip(mean, 1e-3, None) * concentration
    return _normalise(rng.gamma(alpha))


def _normalise(x):
    return x / x.sum(axis=1, keepdims=True)


def bar_seen(pop: pd.DataFrame, min_cos_i: float) -> np.ndarray:
    """A bar is seen (by volunteers, and in the image) when its disk is not too inclined."""
    return pop["has_bar"].to_numpy() & (pop["cos_i"].to_numpy() > min_cos_i)


def galaxy_zoo_votes(pop: pd.DataFrame, rng, noise: float) -> pd.DataFrame:
    """Vote fractions from the true morphology that obey every sum of the decision tree (SPEC §1.3)."""
    n = len(pop)
    conc = 1.0 / max(noise, 1e-3) ** 2 / 10  # Dirichlet concentration: higher = less scatter
    disk = pop["is_disk"].to_numpy()
    B = pop["bulge_frac"].to_numpy()
    edge_on = disk & (pop["axis_ratio"].to_numpy() < 0.35)
    p_features = np.where(disk, 0.85 - 0.5 * B, 0.08)
    q1 = _dirichlet_mean(rng, np.stack([1 - p_features - 0.01, p_features, np.full(n, 0.01)], 1), conc)
    q2 = _dirichlet_mean(rng, np.stack([np.where(edge_on, 0.9, 0.05), np.where(edge_on, 0.1, 0.95)], 1), conc)
    # Only a seen bar is voted for; longer bars are surer.
    seen = pop["bar_seen"].to_numpy()
    frac = np.clip(pop["bar_length_arcsec"].to_numpy() / np.maximum(pop["petroR90_r"].to_numpy(), 1e-3), 0, 1)
    p_bar = np.where(seen, 0.55 + 0.4 * frac, 0.06)
    q3 = _dirichlet_mean(rng, np.stack([p_bar, 1 - p_bar], 1), conc)
    p_spiral = np.where(disk, 0.8, 0.1)
    q4 = _dirichlet_mean(rng, np.stack([p_spiral, 1 - p_spiral], 1), conc)
    bulge_cat = np.stack([np.exp(-((B - c) ** 2) / 0.02) for c in (0.0, 0.15, 0.35, 0.7)], 1) + 0.02
    q5 = _dirichlet_mean(rng, _normalise(bulge_cat), conc)
    q6 = _dirichlet_mean(rng, np.tile([0.1, 0.9], (n, 1)), conc)
    q = pop["axis_ratio"].to_numpy()
    round_cat = np.stack([np.clip(q - 0.5, 0, None) * 2, 1 - np.abs(q - 0.6) * 2, np.clip(0.5 - q, 0, None) * 2], 1) + 0.05
    q7 = _dirichlet_mean(rng, _normalise(round_cat), conc)
    q8 = _dirichlet_mean(rng, np.tile(np.full(7, 1 / 7), (n, 1)), conc)
    q9 = _dirichlet_mean(rng, np.stack([0.3 + B, np.full(n, 0.2), 0.8 - 0.5 * B], 1) / 1.3, conc)
    q10 = _dirichlet_mean(rng, _normalise(np.stack([0.2 + B, np.full(n, 0.4), 0.6 - B], 1).clip(0.05)), conc)
    q11 = _dirichlet_mean(rng, np.tile([0.05, 0.5, 0.1, 0.05, 0.05, 0.25], (n, 1)), conc)
    # Each question's fractions are scaled by the fraction of volunteers who reached it.
    w = {1: np.ones(n), 2: q1[:, 1], 6: np.ones(n), 7: q1[:, 0]}
    w[9] = w[2] * q2[:, 0]
    w[3] = w[2] * q2[:, 1]
    w[4] = w[5] = w[3]
    w[10] = w[11] = w[4] * q4[:, 0]
    w[8] = q6[:, 0]
    answers = {1: q1, 2: q2, 3: q3, 4: q4, 5: q5, 6: q6, 7: q7, 8: q8, 9: q9, 10: q10, 11: q11}
    cols = np.concatenate([answers[k] * w[k][:, None] for k in GZ_QUESTIONS], axis=1)
    return pd.DataFrame(cols, columns=VOTE_COLUMNS, index=pop.index)


def _render_chunk(args):
    rows, cfg = args
    return [render_galaxy(g, cfg) for g in rows]


def render_all(rows, cfg, workers, chunk=16):
    """Render galaxies in parallel, yielding results in catalogue order (deterministic for any worker count)."""
    chunks = [(rows[i : i + chunk], cfg) for i in range(0, len(rows), chunk)]
    bar = tqdm(total=len(rows), desc="render", unit="gal", mininterval=2.0)
    if workers <= 1:
        results = map(_render_chunk, chunks)
        pool = None
    else:
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap(_render_chunk, chunks)
    try:
        for res in results:
            bar.update(len(res))
            yield from res
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()


def _save_jpeg(path, rgb, quality):
    Image.fromarray(rgb).save(path, format="JPEG", quality=quality)


def _write_npz(path, arrays: dict):
    """Like np.savez, but with fixed zip timestamps so the bytes depend only on the data."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def simulate_universe(cfg, out_dir) -> Path:
    """Draw `cfg.n_galaxies`, render them with GalSim and write every layout under `out_dir`.

    `cfg`: the `simulate` params (galaxy_xai.config.simulate.SimulateConfig), already checked.
    The bytes written depend only on `cfg` (not on `cfg.workers`).
    """
    workers = cfg.workers or os.cpu_count() or 1
    rng = np.random.default_rng(cfg.seed)
    pop = draw_population(cfg.n_galaxies, rng)
    pop = pop.join(photometry(pop, rng, cfg.noise_scale))
    n = len(pop)
    ids = pd.DataFrame({
        "GalaxyID": GALAXY_ID0 + np.arange(n), "objid": GZ2_OBJID0 + np.arange(n),
        "asset_id": ASSET_ID0 + np.arange(n), "objID": [str(SDSS_OBJID0 + i) for i in range(n)],
        "sm_row": np.arange(n),
    })
    pop = pd.concat([ids, pop], axis=1)
    pop["seed"] = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(cfg.seed).spawn(n)]
    pop["bar_seen"] = bar_seen(pop, cfg.bar_seen_min_cos_i)
    votes = galaxy_zoo_votes(pop, rng, VOTE_NOISE)
    pop["gz_test"] = rng.uniform(size=n) < cfg.gz_test_fraction
    # Human bar lengths: the truth in units of R90, with measurement scatter (Hoyle et al. 2011,
    # whose sample is 0.01 < z < 0.06: `bar_catalogue_z_max`).
    z_max = cfg.bar_catalogue_z_max
    pop["in_bar_catalogue"] = pop["bar_seen"] & (pop["z"].to_numpy() < (np.inf if z_max is None else z_max))
    pop["length_scaled"] = np.where(
        pop["in_bar_catalogue"],
        pop["bar_length_arcsec"] / pop["petroR90_r"] * np.exp(rng.normal(0, BAR_SCATTER, n)),
        np.nan,
    )
    log.info("simulating %d galaxies with GalSim on %d worker(s) into %s", n, workers, out_dir)
    with atomic_path(out_dir) as tmp:
        _write_layouts(tmp, pop, votes, cfg, rng, workers)
    return Path(out_dir)


def _write_layouts(root: Path, pop, votes, cfg, rng, workers):
    gz, sdss, sm = root / "galaxy_zoo", root / "sdss", root / "stellar_mass"
    for d in [gz / "images_training_rev1", gz / "images_test_rev1" / "images", gz / "images_gz2" / "images", sdss / "images-sdss", sm]:
        d.mkdir(parents=True, exist_ok=True)
    n, size = len(pop), cfg.stamp_size
    stamps = np.lib.format.open_memmap(root / ".stamps.npy", mode="w+", dtype=np.float32, shape=(n, 5, size, size))
    gz_scale = np.zeros(n)
    rows = pop.to_dict("records")
    for k, (survey, gz_rgb, sdss_rgb, scale) in enumerate(render_all(rows, cfg, workers)):
        g = rows[k]
        stamps[k] = survey
        gz_scale[k] = scale
        folder = gz / ("images_test_rev1/images" if g["gz_test"] else "images_training_rev1")
        _save_jpeg(folder / f"{g['GalaxyID']}.jpg", gz_rgb, JPEG_QUALITY)
        _save_jpeg(gz / "images_gz2" / "images" / f"{g['asset_id']}.jpg", gz_rgb, JPEG_QUALITY)
        _save_jpeg(sdss / "images-sdss" / f"{g['objID']}.jpg", sdss_rgb, JPEG_QUALITY)
    pop["gz_pixel_arcsec"] = gz_scale
    pop["bar_length_px"] = pop["bar_length_arcsec"] / gz_scale  # in GZ2-image pixels
    _write_galaxy_zoo(gz, pop, votes)
    _write_sdss(sdss, pop)
    _write_stellar_mass(sm, pop, stamps, rng)
    truth = pop.drop(columns=[c for c in pop.columns if c.startswith("flux_")]).join(votes.add_prefix("votes_"))
    truth["is_agn_bpt"] = kauffmann_agn(np.log10(np.clip(truth["nii_6584_flux"] / truth["h_alpha_flux"], 1e-6, None)),
                                        np.log10(np.clip(truth["oiii_5007_flux"] / truth["h_beta_flux"], 1e-6, None)))
    truth.to_parquet(root / "truth.parquet", index=False)
    del stamps
    (root / ".stamps.npy").unlink()


def _write_galaxy_zoo(gz: Path, pop, votes):
    train = ~pop["gz_test"].to_numpy()
    sol = pd.concat([pop[["GalaxyID"]], votes], axis=1)[train]
    sol.to_csv(gz / "training_solutions_rev1.csv", index=False, float_format="%.9f")
    pd.DataFrame({"objid": pop["objid"], "sample": "original", "asset_id": pop["asset_id"]}).to_csv(
        gz / "gz2_filename_mapping.csv", index=False)
    bars = pop[pop["in_bar_catalogue"]]
    pd.DataFrame({"objid": bars["objid"], "length_scaled": bars["length_scaled"]}).to_csv(
        gz / "hoyle_barlengths.csv", index=False, float_format="%.6f")
    pd.DataFrame({"OBJID": pop["objid"], "REDSHIFT": pop["z"], "PETROR90_R": pop["petroR90_r"],
                  "PETROR50_R": pop["petroR50_r"]}).to_csv(gz / "gz2sample.csv", index=False, float_format="%.6f")


def _write_sdss(sdss: Path, pop):
    out = pop.rename(columns={"oh_obs": "oh_p50", "log_mstar": "lgm_tot_p50", "log_sfr": "sfr_tot_p50"})
    out = out[SDSS_COLUMNS].copy()
    # MPA-JHU leaves metallicity undefined for AGN hosts (-9999, the survey's null).
    out.loc[pop["is_agn"].to_numpy(), "oh_p50"] = -9999.0
    out.to_csv(sdss / "galaxies.csv", index=False, float_format="%.6f")


def _write_stellar_mass(sm: Path, pop, stamps, rng):
    n = len(pop)
    order = rng.permutation(n)
    f_train, f_val, _ = SPLIT_FRACTIONS
    n_train, n_val = int(f_train * n), int(f_val * n)
    cat = {"id_train": np.sort(order[:n_train]), "id_validation": np.sort(order[n_train : n_train + n_val]),
           "id_test": np.sort(order[n_train + n_val :]), "lgm_tot_p50": pop["log_mstar"].to_numpy(),
           "z": pop["z"].to_numpy(), "EBV": pop["ebv"].to_numpy()}
    for key in WISE_KEYS:
        cat[key] = pop[key].to_numpy()
    for b in BANDS:
        for stem in PHOTOMETRY_STEMS:
            cat[f"{stem}_{b}"] = pop[f"{stem}_{b}"].to_numpy()
    _write_npz(sm / "catalog.npz", cat)
    _write_npz(sm / "images.npz", {f"img_{b}": stamps[:, i] for i, b in enumerate(BANDS)})
