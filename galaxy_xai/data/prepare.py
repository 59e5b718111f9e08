"""Catalogue preparation: one Parquet catalogue per family plus memory-mappable image arrays.

Images are decoded, resized and written in chunks into a pre-allocated .npy memmap, so memory
stays bounded by the chunk size whatever the catalogue holds. See docs/prepared_layout.md.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from galaxy_xai import layout
from galaxy_xai.data.formats import read_galaxy_zoo, read_sdss, read_stellar_mass
from galaxy_xai.domain import SFNET_TARGETS, SPLITS
from galaxy_xai.errors import InputError
from galaxy_xai.io import atomic_path, is_null

log = logging.getLogger(__name__)


def load_rgb(path, size: int) -> np.ndarray:
    """Decode one JPEG as RGB and resize it to size × size (uint8), or fail naming the file."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: image cannot be decoded ({err})") from err


def image_width(path) -> int:
    try:
        with Image.open(path) as im:
            return im.size[0]
    except OSError as err:
        raise InputError(f"{path}: image cannot be decoded ({err})") from err


def write_images(paths, size: int, out_path: Path, chunk: int, threads: int = 4, desc="images") -> None:
    """Stream JPEGs into a [n, size, size, 3] uint8 .npy file, `chunk` images at a time."""
    out = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
    with ThreadPoolExecutor(threads) as pool, tqdm(total=len(paths), desc=desc, unit="img", mininterval=2.0) as bar:
        for start in range(0, len(paths), chunk):
            batch = paths[start : start + chunk]
            out[start : start + len(batch)] = np.stack(list(pool.map(lambda p: load_rgb(p, size), batch)))
            bar.update(len(batch))
    out.flush()
    del out


def seeded_split(n: int, fractions: dict, seed: int) -> np.ndarray:
    """Assign each of n rows to a named split with the given fractions (the last takes the rest)."""
    names = list(fractions)
    order = np.random.default_rng(seed).permutation(n)
    split = np.empty(n, dtype=object)
    start = 0
    for i, name in enumerate(names):
        stop = n if i == len(names) - 1 else start + int(round(fractions[name] * n))
        split[order[start:stop]] = name
        start = stop
    return split


def require_sizes(counts: dict, minimum: int, src, reason: str) -> None:
    """Refuse a sample with fewer than `minimum` galaxies in any split, naming the split, the count
    and what needs them (a study with no galaxies would fail deep inside Keras, or say nothing)."""
    for name, count in counts.items():
        if count < minimum:
            raise InputError(f"{src}: {name} has {count} galaxies; {reason} needs at least {minimum} "
                             "(prepare.min_per_split)")


def prepare_galaxy_zoo(src, out: layout.Prepared, size: int, validation_split: float, seed: int, chunk: int,
                       vote_tolerance: float = 0.01, min_per_split: int = 3) -> None:
    """Kaggle votes (labelled galaxies split train / validation, the test folder `test`) and the GZ2
    bar catalogue, images resized to size × size."""
    gz = read_galaxy_zoo(src, vote_tolerance)
    votes = gz.votes.sort_values("GalaxyID", kind="stable").reset_index(drop=True)
    labelled = votes["labelled"].to_numpy()
    split = np.full(len(votes), "test", dtype=object)
    split[labelled] = seeded_split(int(labelled.sum()), {"validation": validation_split, "train": 1 - validation_split}, seed)
    votes["split"] = split
    require_sizes({f"the {s} split of the labelled galaxies": int((split == s).sum()) for s in ("train", "validation")},
                  min_per_split, src, "training and validating the morphology CNNs")
    # the bar study splits the catalogue into search and test galaxies, and the control trains on the rest
    require_sizes({"the bar catalogue (hoyle_barlengths.csv with images and R90)": len(gz.bars) // 3}, min_per_split,
                  src, "a third of it (search, test and control each)")
    if gz.bars_dropped:
        log.info("galaxy_zoo: %d bar-catalogue galaxies left out for a null length_scaled or PETROR90_R", gz.bars_dropped)
    votes["row"] = np.arange(len(votes))
    bars = gz.bars.sort_values("objid", kind="stable").reset_index(drop=True)
    bars["orig_width"] = [image_width(p) for p in bars["image"]]
    bars["row"] = np.arange(len(bars))
    log.info("galaxy_zoo: %d galaxies (%d labelled), %d bar-catalogue galaxies from %s", len(votes), labelled.sum(), len(bars), src)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        write_images(votes["image"].tolist(), size, new.images, chunk, desc="galaxy_zoo")
        write_images(bars["image"].tolist(), size, new.bar_images, chunk, desc="gz2 bars")
        votes.drop(columns="image").to_parquet(new.catalog, index=False)
        bars.drop(columns="image").to_parquet(new.bars, index=False)


def prepare_sdss(src, out: layout.Prepared, size: int, validation_split: float, seed: int, chunk: int,
                 min_per_split: int = 3) -> None:
    """The SFNet metallicity and line samples in one catalogue (flags in_metallicity, in_lines)."""
    met, lines = read_sdss(src, "metallicity"), read_sdss(src, "lines")
    cat = pd.concat([met, lines], ignore_index=True).drop_duplicates("objID").sort_values("objID", kind="stable")
    cat = cat.reset_index(drop=True)
    cat["in_metallicity"] = cat["objID"].isin(met["objID"])
    cat["in_lines"] = cat["objID"].isin(lines["objID"])
    cat["split"] = seeded_split(len(cat), {"validation": validation_split, "train": 1 - validation_split}, seed)
    for target, (flag, _) in SFNET_TARGETS.items():
        require_sizes({f"the {target} sample's {s} split": int((cat[flag] & (cat["split"] == s)).sum())
                       for s in ("train", "validation")}, min_per_split, f"{src}/galaxies.csv",
                      f"the SFNet {target} study (after the paper's sample cuts)")
    cat["row"] = np.arange(len(cat))
    log.info("sdss: %d galaxies (%d metallicity, %d lines) from %s", len(cat), cat["in_metallicity"].sum(), cat["in_lines"].sum(), src)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        write_images(cat["image"].tolist(), size, new.images, chunk, desc="sdss")
        cat.drop(columns="image").to_parquet(new.catalog, index=False)


def prepare_all(data, cfg, prepared=layout.prepared) -> None:
    """The three families from the `data` folders (DataConfig) with the `prepare` params
    (PrepareConfig), into `prepared(family)` (default: galaxy_xai.layout.prepared)."""
    prepare_galaxy_zoo(data.galaxy_zoo, prepared("galaxy_zoo"), data.img_width, data.augmentation.validation_split,
                       cfg.seed, cfg.chunk_size, cfg.vote_tolerance, cfg.min_per_split)
    prepare_sdss(data.sdss, prepared("sdss"), cfg.sdss_size, cfg.sdss_validation_split, cfg.seed, cfg.chunk_size,
                 cfg.min_per_split)
    prepare_stellar_mass(data.stellar_mass, prepared("stellar_mass"), cfg.chunk_size, cfg.min_per_split)


def prepare_stellar_mass(src, out: layout.Prepared, chunk: int, min_per_split: int = 3) -> None:
    """The stellar-mass catalogue and its ugriz stamps as one [n, H, W, 5] float32 array."""
    cat, bands = read_stellar_mass(src)
    n = len(cat)
    known = ~is_null(cat["lgm_tot_p50"])
    require_sizes({f"the {s} split (with a stellar mass)": int((known & (cat["split"] == s)).sum()) for s in SPLITS},
                  min_per_split, f"{src}/catalog.npz", "the stellar-mass study (SCL, KNN, MI)")
    shapes = {b: img.shape for b, img in bands.items()}
    if any(s[0] != n or len(s) != 3 for s in shapes.values()) or len(set(shapes.values())) != 1:
        raise InputError(f"{src}/images.npz: expected img_u … img_z of shape [{n}, H, W] each, got {shapes}")
    cat["row"] = np.arange(n)
    log.info("stellar_mass: %d galaxies, images %s, from %s", n, shapes["r"], src)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        images = np.lib.format.open_memmap(new.images, mode="w+", dtype=np.float32, shape=(n, *shapes["r"][1:], 5))
        for start in tqdm(range(0, n, chunk), desc="stellar_mass", unit="chunk", mininterval=2.0):
            stop = min(start + chunk, n)
            images[start:stop] = np.stack([np.asarray(bands[b][start:stop]) for b in "ugriz"], axis=-1)
        images.flush()
        del images
        cat.to_parquet(new.catalog, index=False)
