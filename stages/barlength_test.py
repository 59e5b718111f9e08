"""Stage barlength_test: each mode's best validation cell applied to the test bars (SPEC §3).

Metrics per mode and xinput: Pearson r and calibrated RMSE against the catalogue (human) lengths
and, for simulated data, against the true lengths, with r also per R90 (galaxy size divided out);
the `r90_only` baseline (R90 as the length) and the `image_only` one (the grey image measured as a
heatmap); how alike each model's maps are (median r with their
mean map); the chosen cell; counts of flagged maps.
"""
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.io import atomic_path, get_logger, load_params, require, write_json
from galaxy_xai.xai.bar_length import OK
from galaxy_xai.xai.bar_study import (agreement, bar_grid_settings, bar_table, calibrate, calibrated_rmse, grey, image_only, in_catalogue_units,
                                      load_heatmaps, measure_mode, mode_heatmaps, r_per_r90, references,
                                      similarity_to_mean_map, split_bars, true_lengths)

log = get_logger("stage.barlength_test")


def evaluate(lengths_val, lengths_test, ref_val, ref_test, r90_test):
    """Test r and calibrated RMSE (line fitted on validation), and r per R90 (None for R90 itself)."""
    line = calibrate(lengths_val, ref_val)
    return {**agreement(lengths_test, ref_test), "rmse": calibrated_rmse(lengths_test, ref_test, line),
            "pearson_r_per_r90": r_per_r90(lengths_test, ref_test, r90_test)}


def main(params_path="params.yaml", prepared="out/prepared/galaxy_zoo", search="out/barlength_search", out_dir="out/barlength_test"):
    params = load_params(params_path)
    truth_path = require(params, "data.truth", (str, type(None)), what="a path or null", source=params_path)
    pin = require(params, "xai.pin", (dict, type(None)), what="null or a mapping {mode, xinput, corr_threshold, len_threshold}", source=params_path)
    grid = bar_grid_settings(params, params_path)
    maps, index = load_heatmaps()
    bars = bar_table(index, prepared)
    images = np.load(Path(prepared) / "bar_images.npy", mmap_mode="r")
    grey_images = grey(np.asarray(images[bars["row"].to_numpy()]))
    split = split_bars(len(bars), grid["validation_split"], grid["seed"])
    hoyle = bars["length_scaled"].to_numpy() * bars["PETROR90_R"].to_numpy()
    truth = true_lengths(truth_path, bars["objid"])
    cells = pd.read_csv(Path(search) / "best_cells.csv")
    chosen = pin or json.loads((Path(search) / "chosen.json").read_text())
    if pin:
        cells = pd.concat([cells, pd.DataFrame([pin])], ignore_index=True)
    map_width = maps["vgg16"].shape[-1]
    metrics, per_galaxy, flag_counts = {}, [], Counter()
    val, test = split == "validation", split == "test"
    r90 = bars["PETROR90_R"].to_numpy(np.float64)
    refs = references(hoyle, truth)
    score = lambda lengths: {name: evaluate(lengths[val], lengths[test], ref[val], ref[test], r90[test])  # noqa: E731
                             for name, ref in refs.items()}
    for cell in cells.to_dict("records"):
        sets = mode_heatmaps(maps, cell["mode"], bool(cell["xinput"]), grey_images)
        lengths, flags = measure_mode(sets, cell["corr_threshold"], int(cell["len_threshold"]))
        measured = in_catalogue_units(lengths, bars, map_width)
        key = f"{cell['mode']}{'_xinput' if cell['xinput'] else ''}"
        metrics[key] = {"corr_threshold": cell["corr_threshold"], "len_threshold": int(cell["len_threshold"]),
                        **score(measured), "flags": dict(Counter(flags[test]))}
        flag_counts.update({f"{key}:{f}": int(c) for f, c in Counter(flags).items() if f != OK})
        is_chosen = all(str(cell[k]) == str(chosen[k]) for k in ("mode", "xinput", "corr_threshold")) and int(cell["len_threshold"]) == int(chosen["len_threshold"])
        if is_chosen:
            per_galaxy = pd.DataFrame({"objid": bars["objid"], "split": split, "length_map_px": lengths, "measured": measured,
                                       "hoyle": hoyle, "true": truth if truth is not None else np.nan, "flag": flags,
                                       "PETROR90_R": r90})
    if flag_counts:
        log.warning("flagged heatmaps (no length measured): %s", dict(flag_counts))
    chosen_key = f"{chosen['mode']}{'_xinput' if chosen['xinput'] else ''}"
    r90_only = score(r90)
    image_cell, image_lengths, image_flags = image_only(grey_images, bars, val, map_width, grid["corr_thresholds"], grid["len_thresholds"],
                                                         grid["min_measured"])
    image_metrics = {**(image_cell or {}), **score(in_catalogue_units(image_lengths, bars, map_width)),
                     "flags": dict(Counter(image_flags[test]))}
    log.info("chosen %s: test r vs catalogue %s (per R90 %s), vs truth %s; R90 alone: r vs catalogue %s", chosen_key,
             metrics[chosen_key]["vs_catalogue"].get("pearson_r"), metrics[chosen_key]["vs_catalogue"]["pearson_r_per_r90"],
             metrics[chosen_key].get("vs_truth", {}).get("pearson_r"), r90_only["vs_catalogue"]["pearson_r"])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(out_dir) / "lengths.csv") as tmp:
        per_galaxy.to_csv(tmp, index=False)
    similarity = {m: similarity_to_mean_map(v) for m, v in maps.items()}
    write_json("out/metrics/barlength.json", {"modes": metrics, "r90_only": r90_only, "image_only": image_metrics,
                                              "map_similarity_to_mean": similarity,
                                              "chosen": chosen_key, "chosen_cell": chosen,
                                              "n_validation": int(val.sum()), "n_test": int(test.sum()), "flagged": dict(flag_counts)})


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
