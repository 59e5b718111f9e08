"""Stage heatmaps@<model>: SmoothGrad maps of the bar output for the bar-catalogue galaxies (SPEC §3)."""
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm import tqdm

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import atomic_path, get_logger, load_params, require, save_npy
from galaxy_xai.params import model_name
from galaxy_xai.xai.smoothgrad import iter_smoothgrad

log = get_logger("stage.heatmaps")


def xai_settings(params, source):
    pos = lambda v: v > 0  # noqa: E731
    return dict(
        samples=require(params, "xai.smooth_samples", int, pos, "a positive integer", source),
        noise=float(require(params, "xai.smooth_noise", (int, float), pos, "a positive number", source)),
        batch_size=require(params, "xai.batch_size", int, pos, "a positive integer", source),
        max_galaxies=require(params, "xai.max_galaxies", (int, type(None)), lambda v: v is None or v > 0, "null or a positive integer", source),
        output=require(params, "xai.output", str, lambda v: v in VOTE_COLUMNS, "a vote column such as Class3.1", source),
        seed=require(params, "data.random_seed", int, source=source),
    )


def main(name, params_path="params.yaml", prepared="out/prepared/galaxy_zoo", models="out/morphology", out_root="out/heatmaps"):
    params = load_params(params_path)
    name = model_name(name)
    cfg = xai_settings(params, params_path)
    bars = pd.read_parquet(Path(prepared) / "bars.parquet")
    if cfg["max_galaxies"] is not None:
        bars = bars.iloc[: cfg["max_galaxies"]]  # bars.parquet is sorted by objid: a fixed subset
    images = np.load(Path(prepared) / "bar_images.npy", mmap_mode="r")
    model = keras.models.load_model(Path(models) / name / "model.keras")
    output_index = VOTE_COLUMNS.index(cfg["output"])
    log.info("%s: SmoothGrad of %s for %d bar galaxies, %d samples, noise %.2f", name, cfg["output"], len(bars), cfg["samples"], cfg["noise"])
    stream = (np.asarray(images[r], dtype=np.float32) / 255.0 for r in bars["row"])
    maps = np.zeros((len(bars), *images.shape[1:3]), dtype=np.float16)
    done = 0
    with tqdm(total=len(bars), desc=f"smoothgrad {name}", unit="map", mininterval=2.0) as bar:
        for chunk in iter_smoothgrad(model, stream, output_index, cfg["samples"], cfg["noise"], cfg["batch_size"], seed=cfg["seed"]):
            maps[done : done + len(chunk)] = chunk
            done += len(chunk)
            bar.update(len(chunk))
    out = Path(out_root) / name
    with atomic_path(out) as tmp:
        tmp.mkdir()
        np.save(tmp / "heatmaps.npy", maps)
        bars[["objid", "row"]].to_parquet(tmp / "index.parquet", index=False)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
