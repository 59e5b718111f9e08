"""Bar lengths from heatmaps, as the saliency study measures them (SPEC §3).

Units, kept exactly as the catalogue does it: the human length is `hoyle = length_scaled × PETROR90_R`
and the heatmap length is `measured = length in original-image pixels × PETROR90_R`. The two differ
by the (unknown to the model) pixel scale, so RMSE is reported after a linear calibration
`hoyle ≈ a·measured + b` fitted on the validation part and applied unchanged to the test part;
Pearson r needs no calibration.

Both lengths carry PETROR90_R, so in arcsec a length that knows nothing of the bar still
correlates with the truth through galaxy size alone. Each r is therefore also given per R90
(`length_scaled` and the map length in units of R90, size divided out), next to the `r90_only`
baseline: R90 itself as the length estimate.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from galaxy_xai.io import require
from galaxy_xai.xai.bar_length import OK, measure_bar_lengths, to_catalogue_units, to_original_pixels

SINGLE = ("vgg16", "resnet50v2", "xception")
MODES = SINGLE + ("averageheatmaps", "averagemeasurements")


def bar_grid_settings(params, source="params.yaml") -> dict:
    """The bar-length threshold grid and its validation split (`xai.*`), read by the search and the test."""
    lst = lambda v: isinstance(v, list) and len(v) > 0  # noqa: E731
    return dict(
        corr_thresholds=[float(v) for v in require(params, "xai.corr_thresholds", list, lst, "a non-empty list", source)],
        len_thresholds=[int(v) for v in require(params, "xai.len_thresholds", list, lst, "a non-empty list", source)],
        xinputs=[bool(v) for v in require(params, "xai.xinput", list, lst, "a non-empty list of true/false", source)],
        validation_split=float(require(params, "xai.validation_split", float, lambda v: 0 < v < 1, "a number in (0, 1)", source)),
        min_measured=float(require(params, "xai.min_measured", (int, float), lambda v: 0 <= v <= 1, "a share in [0, 1]", source)),
        seed=require(params, "data.random_seed", int, source=source),
    )


def split_bars(n: int, validation_split: float, seed: int) -> np.ndarray:
    """'validation' / 'test' label per bar-catalogue galaxy (seeded)."""
    order = np.random.default_rng(seed).permutation(n)
    split = np.full(n, "test", dtype=object)
    split[order[: int(round(validation_split * n))]] = "validation"
    return split


def grey(images_uint8: np.ndarray) -> np.ndarray:
    """Grey-scale [0, 1] images, the `xinput` multiplier."""
    return images_uint8.astype(np.float32).mean(axis=-1) / 255.0


def mode_heatmaps(heatmaps: dict, mode: str, xinput: bool, grey_images) -> list:
    """The maps one mode measures: one set per model, or the mean of the three (renormalised)."""
    def prep(maps):
        maps = maps.astype(np.float32)
        if xinput:
            maps = maps * grey_images
        return maps

    if mode in heatmaps:  # one model's maps (or any other single set, e.g. the image itself)
        return [prep(heatmaps[mode])]
    if mode == "averageheatmaps":
        mean = np.mean([heatmaps[m].astype(np.float32) for m in SINGLE], axis=0)
        return [prep(_renormalise(mean))]
    return [prep(heatmaps[m]) for m in SINGLE]  # averagemeasurements: measure each, then average


def _renormalise(maps):
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    return (maps - lo) / np.where(hi > lo, hi - lo, 1.0)


def measure_mode(map_sets: list, corr_threshold, len_threshold):
    """Lengths in map pixels (mean over sets for averagemeasurements) and a flag per galaxy."""
    results = [measure_bar_lengths(maps, corr_threshold, len_threshold) for maps in map_sets]
    lengths = np.mean([r[0] for r in results], axis=0)  # NaN if any model's map failed
    flags = results[0][1].copy()
    for _, f in results[1:]:
        flags = np.where(flags == OK, f, flags)
    return lengths, flags


def in_catalogue_units(lengths_map_px, bars: pd.DataFrame, map_width: int) -> np.ndarray:
    orig = to_original_pixels(lengths_map_px, bars["orig_width"].to_numpy(), map_width)
    return to_catalogue_units(orig, bars["PETROR90_R"].to_numpy())


def agreement(measured, reference) -> dict:
    """Pearson r and raw RMSE over galaxies where both are finite."""
    ok = np.isfinite(measured) & np.isfinite(reference)
    if ok.sum() < 3 or np.std(measured[ok]) == 0:
        return {"pearson_r": None, "n": int(ok.sum())}
    return {"pearson_r": float(pearsonr(measured[ok], reference[ok])[0]), "n": int(ok.sum())}


def per_r90(lengths, r90) -> np.ndarray:
    """Lengths in units of the galaxy's Petrosian R90, i.e. with galaxy size divided out."""
    return np.asarray(lengths, dtype=np.float64) / np.asarray(r90, dtype=np.float64)


def r_per_r90(measured, reference, r90):
    """Pearson r of two lengths with galaxy size divided out (None where undefined, e.g. R90 itself)."""
    return agreement(per_r90(measured, r90), per_r90(reference, r90))["pearson_r"]


def references(hoyle, truth) -> dict:
    """The lengths every estimate is scored against: the catalogue's and, if simulated, the true ones."""
    return {"vs_catalogue": hoyle, **({"vs_truth": truth} if truth is not None else {})}


def similarity_to_mean_map(maps) -> float:
    """Median Pearson r between each galaxy's map and the mean map of all galaxies.

    Near 1, the maps are the model's generic pattern rather than this galaxy's bar: whatever
    length is measured on them then follows galaxy size (through PETROR90_R), not the bar.
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    mean = np.broadcast_to(flat.mean(axis=0), flat.shape)
    return float(np.nanmedian(_pearson_rows(flat, mean)))


def _pearson_rows(a, b):
    """Pearson r of every row pair of two [m, n] arrays."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def paired_r_difference(reference, a, b, n_bootstrap: int, seed: int) -> dict:
    """r(a, reference) − r(b, reference) on the same galaxies, with a paired bootstrap.

    Two length estimates of the same galaxies are correlated, so their r's cannot be compared
    as independent samples: each bootstrap draw resamples galaxies once for both. Returns the
    difference, its 95 % percentile interval and the share of draws in which a beats b.
    """
    reference, a, b = (np.asarray(v, dtype=np.float64) for v in (reference, a, b))
    ok = np.isfinite(reference) & np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3:
        return {"difference": None, "n": n}
    reference, a, b = reference[ok], a[ok], b[ok]
    rows = np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))
    draws = _pearson_rows(a[rows], reference[rows]) - _pearson_rows(b[rows], reference[rows])
    draws = draws[np.isfinite(draws)]  # a draw of one repeated galaxy has no r
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"difference": float(pearsonr(a, reference)[0] - pearsonr(b, reference)[0]),
            "ci95": [float(lo), float(hi)], "p_first_better": float(np.mean(draws > 0)), "n": n}


def calibrate(measured, reference):
    """Least-squares line reference ≈ a·measured + b over finite pairs (None if too few)."""
    ok = np.isfinite(measured) & np.isfinite(reference)
    if ok.sum() < 3 or np.std(measured[ok]) == 0:
        return None
    a, b = np.polyfit(measured[ok], reference[ok], 1)
    return float(a), float(b)


def calibrated_rmse(measured, reference, line) -> float | None:
    ok = np.isfinite(measured) & np.isfinite(reference)
    if line is None or not ok.any():
        return None
    a, b = line
    return float(np.sqrt(np.mean((a * measured[ok] + b - reference[ok]) ** 2)))


def grid_search(heatmaps, bars, grey_images, map_width, corr_thresholds, len_thresholds, xinputs, modes=MODES):
    """Every cell (mode, xinput, corr_threshold, len_threshold) scored on the given bars."""
    hoyle = bars["length_scaled"].to_numpy() * bars["PETROR90_R"].to_numpy()
    rows = []
    for mode, xinput in itertools.product(modes, xinputs):
        sets = mode_heatmaps(heatmaps, mode, xinput, grey_images)
        for ct, lt in itertools.product(corr_thresholds, len_thresholds):
            lengths, flags = measure_mode(sets, ct, lt)
            measured = in_catalogue_units(lengths, bars, map_width)
            line = calibrate(measured, hoyle)
            rows.append({"mode": mode, "xinput": xinput, "corr_threshold": ct, "len_threshold": lt,
                         **agreement(measured, hoyle), "rmse": calibrated_rmse(measured, hoyle, line),
                         "n_flagged": int((flags != OK).sum()), "measured_fraction": float(np.mean(flags == OK))})
    return pd.DataFrame(rows)


def image_only(grey_images, bars, validation, map_width, corr_thresholds, len_thresholds, min_measured=0.0):
    """The grey image itself measured as if it were a heatmap, thresholds chosen on `validation`.

    A model-free baseline: what the mask procedure finds in the light distribution alone. A heatmap
    mode (or its `xinput` variant) that does no better has added nothing of the model's.
    Returns the chosen cell and every galaxy's length in map pixels and flag.
    """
    image = _renormalise(np.asarray(grey_images, dtype=np.float32))
    table = grid_search({"image": image[validation]}, bars[validation].reset_index(drop=True), None,
                        map_width, corr_thresholds, len_thresholds, [False], modes=("image",))
    best = best_cells(table, min_measured)
    if best.empty:
        return None, np.full(len(bars), np.nan), np.full(len(bars), "no_cell", dtype=object)
    cell = {"corr_threshold": float(best.loc[0, "corr_threshold"]), "len_threshold": int(best.loc[0, "len_threshold"])}
    lengths, flags = measure_mode([image], cell["corr_threshold"], cell["len_threshold"])
    return cell, lengths, flags


def best_cells(table: pd.DataFrame, min_measured: float = 0.0) -> pd.DataFrame:
    """Per (mode, xinput) the cell with the highest Pearson r (ties: lower RMSE) among the cells that
    measure at least `min_measured` of the bars: otherwise a cell whose mask is empty on half the
    bars can win on the easy half (measured: r 0.82 on 27 of 60 validation bars, 0.66 on test)."""
    eligible = table[table["measured_fraction"] >= min_measured]
    ranked = eligible.dropna(subset=["pearson_r"]).sort_values(["pearson_r", "rmse"], ascending=[False, True], kind="stable")
    return ranked.groupby(["mode", "xinput"], sort=False).head(1).reset_index(drop=True)


# --------------------------------------------------------------------------- inputs of the stages

def load_heatmaps(root="out/heatmaps"):
    """The three models' maps aligned on one objid index."""
    maps, index = {}, None
    for m in SINGLE:
        idx = pd.read_parquet(Path(root) / m / "index.parquet")
        if index is not None and not idx["objid"].equals(index["objid"]):
            raise ValueError(f"{root}/{m}/index.parquet: galaxies differ from the other models' heatmaps")
        index = idx
        maps[m] = np.load(Path(root) / m / "heatmaps.npy")
    return maps, index


def bar_table(index, prepared):
    """The bar catalogue rows of the heatmaps' galaxies, in the heatmaps' order."""
    return pd.read_parquet(Path(prepared) / "bars.parquet").set_index("objid").loc[index["objid"]].reset_index()


def true_lengths(truth_path, objids):
    """True projected bar lengths in the catalogue's units (arcsec), or None for real data."""
    if truth_path is None:
        return None
    truth = pd.read_parquet(truth_path, columns=["objid", "bar_length_arcsec"]).set_index("objid")
    return truth["bar_length_arcsec"].reindex(objids).to_numpy()
