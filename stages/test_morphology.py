"""Stage test_morphology@<model>: vote predictions for the training and test images of one model."""
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.io import atomic_path, get_logger, load_params, require, write_json
from galaxy_xai.models.training import predict_rows
from galaxy_xai.params import model_name

log = get_logger("stage.test_morphology")


def write_predictions(model, cat, images, batch_size, out_dir: Path):
    """predictions_train.csv (labelled galaxies) and predictions_test.csv (the test folder)."""
    for split_name, part in [("train", cat[cat["labelled"]]), ("test", cat[~cat["labelled"]])]:
        pred = predict_rows(model, images, part["row"], batch_size) if len(part) else np.zeros((0, len(VOTE_COLUMNS)))
        table = pd.DataFrame(pred, columns=VOTE_COLUMNS)
        table.insert(0, "GalaxyID", part["GalaxyID"].to_numpy())
        with atomic_path(out_dir / f"predictions_{split_name}.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")


def main(name, params_path="params.yaml", prepared="out/prepared/galaxy_zoo", out_root="out/morphology"):
    params = load_params(params_path)
    name = model_name(name)
    batch_size = require(params, "train.batch_size", int, lambda v: v > 0, "a positive integer", params_path)
    cat = pd.read_parquet(Path(prepared) / "catalog.parquet")
    images = np.load(Path(prepared) / "images.npy", mmap_mode="r")
    model = keras.models.load_model(Path(out_root) / name / "model.keras")
    log.info("%s: predicting %d labelled and %d test galaxies", name, cat["labelled"].sum(), (~cat["labelled"]).sum())
    out_dir = Path("out/predictions") / name
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(model, cat, images, batch_size, out_dir)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
