"""Stage barlength_search: the validation grid over corr_threshold × len_threshold × xinput per mode."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.io import atomic_path, get_logger, load_params, write_json
from galaxy_xai.xai.bar_study import MODES, bar_grid_settings, bar_table, best_cells, grey, grid_search, load_heatmaps, split_bars

log = get_logger("stage.barlength_search")


def main(params_path="params.yaml", prepared="out/prepared/galaxy_zoo", out_dir="out/barlength_search"):
    params = load_params(params_path)
    cfg = bar_grid_settings(params, params_path)
    maps, index = load_heatmaps()
    bars = bar_table(index, prepared)
    images = np.load(Path(prepared) / "bar_images.npy", mmap_mode="r")
    grey_images = grey(np.asarray(images[bars["row"].to_numpy()]))
    split = split_bars(len(bars), cfg["validation_split"], cfg["seed"])
    val = split == "validation"
    log.info("grid over %d cells × %d modes on %d validation bars", len(cfg["corr_thresholds"]) * len(cfg["len_thresholds"]) * len(cfg["xinputs"]), len(MODES), val.sum())
    table = grid_search({m: v[val] for m, v in maps.items()}, bars[val].reset_index(drop=True), grey_images[val],
                        maps["vgg16"].shape[-1], cfg["corr_thresholds"], cfg["len_thresholds"], cfg["xinputs"])
    best = best_cells(table, cfg["min_measured"])
    if best.empty:  # e.g. a handful of bars: keep going with the first cell, and say so
        log.warning("no cell gave a defined Pearson r on %.0f%% or more of the %d validation bars (xai.min_measured); "
                    "using the first cell", 100 * cfg["min_measured"], val.sum())
        best = table.head(1)
    chosen = best.iloc[0].to_dict()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "search.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "best_cells.csv") as tmp:
        best.to_csv(tmp, index=False)
    write_json(out / "chosen.json", chosen)
    log.info("chosen cell: %s", chosen)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
