"""SmoothGrad heatmaps of a morphology CNN's bar output for the bar-catalogue galaxies (SPEC §3):
what the bar-length study measures. The method itself: galaxy_xai.xai.smoothgrad."""
from __future__ import annotations

import logging
import time

import numpy as np
from tqdm import tqdm

from galaxy_xai import layout
from galaxy_xai.domain import VOTE_COLUMNS
from galaxy_xai.io import atomic_path, write_json
from galaxy_xai.xai.smoothgrad import iter_smoothgrad, randomisation_test

log = logging.getLogger(__name__)


def bar_heatmaps(model, prepared: layout.Prepared, xai, seed: int, out: layout.Heatmaps) -> None:
    """SmoothGrad maps of the output `xai.output` for the bar-catalogue galaxies (the first
    `xai.max_galaxies` by objid), float16 [n, H, W] in out.heatmaps, their objid and row in out.index."""
    bars = prepared.read_bars()
    if xai.max_galaxies is not None:
        bars = bars.iloc[: xai.max_galaxies]  # bars.parquet is sorted by objid: a fixed subset
    images = prepared.read_images("bar_images")
    started = time.perf_counter()
    log.info("SmoothGrad of %s for %d bar galaxies, %d samples, noise %.2f", xai.output, len(bars),
             xai.smooth_samples, xai.smooth_noise)
    stream = (layout.unit_images(images[r]) for r in bars["row"])
    maps = np.zeros((len(bars), *images.shape[1:3]), dtype=np.float16)
    done = 0
    chunks = iter_smoothgrad(model, stream, VOTE_COLUMNS.index(xai.output), xai.smooth_samples, xai.smooth_noise,
                             xai.batch_size, seed=seed)
    with tqdm(total=len(bars), desc="smoothgrad", unit="map", mininterval=2.0) as progress:
        for chunk in chunks:
            maps[done : done + len(chunk)] = chunk
            done += len(chunk)
            progress.update(len(chunk))
    log.info("%.2f s per map", (time.perf_counter() - started) / max(1, len(bars)))
    randomisation = sanity_check(model, images, bars["row"].to_numpy(), xai, seed, maps)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        np.save(new.heatmaps, maps)
        bars[["objid", "row"]].to_parquet(new.index, index=False)
        write_json(new.randomisation, randomisation)


def sanity_check(model, images, rows, xai, seed: int, maps=None) -> dict | None:
    """The cascading randomisation test (galaxy_xai.xai.smoothgrad.randomisation_test) on the first
    `xai.randomisation.n_galaxies` mapped galaxies, same SmoothGrad settings and noise; None when
    n_galaxies is 0. `maps`: the trained model's maps of `rows` (the first ones are reused, as
    the noise is drawn image by image from the same seed)."""
    cfg = xai.randomisation
    rows = rows[: cfg.n_galaxies]
    if len(rows) == 0:
        return None
    started = time.perf_counter()
    result = randomisation_test(model, layout.unit_images(images[rows]),
                                VOTE_COLUMNS.index(xai.output), cfg.fractions, xai.smooth_samples,
                                xai.smooth_noise, xai.batch_size, seed=seed,
                                trained=None if maps is None else maps[: len(rows)].astype(np.float32))
    result["seconds"] = time.perf_counter() - started
    log.info("randomisation test on %d galaxies: median Spearman %s (%.0f s)", len(rows),
             [d["median_spearman"] for d in result["depths"]], result["seconds"])
    return result

