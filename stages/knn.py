"""Stage knn@<dataset>: the k_max nearest training galaxies of every galaxy in the SCL main-latent
space (SPEC §6), nearest first.

As in the study, a training galaxy keeps itself as its own first neighbour.
Output out/knn/<dataset>/neighbours.npy: int32 [n, k_max], row i = galaxy i of
out/scl/<dataset>/predictions.parquet (catalogue order), values = rows of that same table.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.causal.knn import nearest_training_neighbours
from galaxy_xai.io import ParamError, atomic_path, check_known, get_logger, load_params, require, write_json

log = get_logger("stage.knn")


def knn_settings(params, source="params.yaml") -> dict:
    check_known(params, "knn", ("k_max", "chunk_size", "workers"), source)
    pos = lambda v: v > 0  # noqa: E731
    return dict(k_max=require(params, "knn.k_max", int, pos, "a positive integer", source),
                chunk_size=require(params, "knn.chunk_size", int, pos, "a positive integer", source),
                workers=require(params, "knn.workers", int, lambda v: v >= 0, "an integer >= 0 (0 = every core)", source))


def main(name, params_path="params.yaml", scl_root="out/scl", out_root="out/knn"):
    cfg = knn_settings(load_params(params_path), params_path)
    scl_dir = Path(scl_root) / name
    if not (scl_dir / "latent.npy").is_file():
        raise ParamError(f"{scl_dir}/latent.npy not found; run the stage scl@{name} first")
    latent = np.load(scl_dir / "latent.npy")
    table = pd.read_parquet(scl_dir / "predictions.parquet", columns=["row", "split"])
    train_ids = np.flatnonzero(table["split"].to_numpy() == "train")
    if cfg["k_max"] > len(train_ids):
        raise ParamError(f"{params_path}: 'knn.k_max' ({cfg['k_max']}) exceeds the {len(train_ids)} training galaxies")
    log.info("knn@%s: %d nearest of %d training galaxies for %d galaxies in a %d-d latent space",
             name, cfg["k_max"], len(train_ids), len(latent), latent.shape[1])
    neighbours = nearest_training_neighbours(latent, train_ids, cfg["k_max"], cfg["chunk_size"], progress=True,
                                            workers=cfg["workers"])
    with atomic_path(Path(out_root) / name) as tmp:
        tmp.mkdir()
        np.save(tmp / "neighbours.npy", neighbours)
        write_json(tmp / "summary.json", {"dataset": name, "k_max": cfg["k_max"], "n_train": len(train_ids),
                                          "n_galaxies": len(latent)})


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
