"""Every path of the pipeline: the prepared data, each stage's output folder, the metrics files.

No stage or library function spells a path; each asks this module. A folder kind lists its files
once (`files`); `Folder.at(tmp)` gives the same names under a temporary folder, so a stage can
write atomically (`galaxy_xai.io.atomic_path`) and readers find the same files after the rename.
Readers fail with one sentence naming the missing file and the stage that writes it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.domain import SFNET_TARGETS
from galaxy_xai.errors import InputError, StaleOutputError
from galaxy_xai import machine
from galaxy_xai.io import write_json

OUT = Path("out")  # relative to the repository root, where DVC runs every stage
PIXEL_SCALE = 1 / 255.0  # prepared JPEG images are uint8; every image model sees [0, 1]


class Folder:
    """A folder of named files. `files` maps an attribute to a file name; `stage` writes it."""

    files: dict[str, str] = {}
    stage = "?"

    def __init__(self, path, stage: str | None = None):
        self.dir = Path(path)
        if stage is not None:
            self.stage = stage

    def __getattr__(self, name):
        files = type(self).files
        if name in files:
            return self.dir / files[name]
        raise AttributeError(f"{type(self).__name__} has no file {name!r}")

    def at(self, path):
        """The same files under another folder (a temporary one while writing)."""
        return type(self)(path, self.stage)

    def need(self, name) -> Path:
        """The path of file `name`, which must exist (else: which stage to run)."""
        path = getattr(self, name)
        if not path.exists():
            raise StaleOutputError(f"{path} not found; run the stage {self.stage} first")
        return path

    def read_json(self, name) -> dict:
        return json.loads(self.need(name).read_text())

    def read_parquet(self, name, columns=None) -> pd.DataFrame:
        return pd.read_parquet(self.need(name), columns=columns)

    def read_npy(self, name, mmap: bool = False) -> np.ndarray:
        return np.load(self.need(name), mmap_mode="r" if mmap else None)

    def __repr__(self):
        return f"{type(self).__name__}({str(self.dir)!r})"


# ----------------------------------------------------------------------------- prepared data

def simulated() -> Path:
    """data/simulated: the simulate stage's universe in the survey layouts (+ truth.parquet)."""
    return Path("data") / "simulated"


class Prepared(Folder):
    """out/prepared/<family>: catalog.parquet (one row per galaxy, `row` = image index) and
    images.npy ([n, H, W, 3] uint8, or [n, H, W, 5] float32 ugriz for stellar_mass); Galaxy Zoo
    also holds the bar catalogue (bars.parquet, bar_images.npy). See docs/prepared_layout.md."""

    files = {"catalog": "catalog.parquet", "images": "images.npy", "bars": "bars.parquet",
             "bar_images": "bar_images.npy"}
    stage = "prepare"

    def read_catalog(self, columns=None) -> pd.DataFrame:
        return self.read_parquet("catalog", columns)

    def read_bars(self) -> pd.DataFrame:
        return self.read_parquet("bars")

    def read_images(self, name: str = "images") -> np.ndarray:
        """The image array as a read-only memmap: memory does not grow with the catalogue."""
        return self.read_npy(name, mmap=True)


def prepared(family: str) -> Prepared:
    return Prepared(OUT / "prepared" / family)


def unit_images(images) -> np.ndarray:
    """uint8 images as float32 in [0, 1]: the one place the pixel scaling is applied."""
    return np.asarray(images, dtype=np.float32) * np.float32(PIXEL_SCALE)


# ----------------------------------------------------------------------------- stage outputs

class ModelFolder(Folder):
    """A trained network: the model, its training log and dvclive folder; SFNet folders add the
    per-galaxy features and predictions and the target scaling."""

    files = {"model": "model.keras", "training_log": "training_log.csv", "live": "live",
             "features": "features.npz", "standardiser": "standardiser.json"}


def morphology(model: str) -> ModelFolder:
    return ModelFolder(OUT / "morphology" / model, f"train_morphology@{model}")


class Predictions(Folder):
    files = {"train": "predictions_train.csv", "test": "predictions_test.csv"}


def predictions(model: str) -> Predictions:
    stage = "ensemble" if model == "ensemble" else f"test_morphology@{model}"
    return Predictions(OUT / "predictions" / model, stage)


class Heatmaps(Folder):
    files = {"heatmaps": "heatmaps.npy", "index": "index.parquet", "randomisation": "randomisation.json"}


def heatmaps(model: str) -> Heatmaps:
    return Heatmaps(OUT / "heatmaps" / model, f"heatmaps@{model}")


class BarSearch(Folder):
    files = {"search": "search.csv", "best_cells": "best_cells.csv", "chosen": "chosen.json"}


def barlength_search() -> BarSearch:
    return BarSearch(OUT / "barlength_search", "barlength_search")


class BarTest(Folder):
    files = {"lengths": "lengths.csv"}


def barlength_test() -> BarTest:
    return BarTest(OUT / "barlength_test", "barlength_test")


class Control(Folder):
    files = {"model": "model.keras", "lengths": "lengths.csv"}


def control() -> Control:
    return Control(OUT / "control", "control")


def sfnet_dense(target: str) -> ModelFolder:
    return ModelFolder(OUT / "sfnet" / "dense" / target, f"sfnet_dense@{target}")


def sfnet_train(target: str) -> ModelFolder:
    return ModelFolder(OUT / "sfnet" / "train" / target, f"train_sfnet@{target}")


class SfnetZoobot(Folder):
    """The Zoobot analogue: its model, training log and summary, and per target the feature table of
    its 512 pooled features on the SDSS images (models.sfnet_training.save_feature_table)."""

    files = {"model": "model.keras", "training_log": "training_log.csv", "live": "live", "summary": "summary.json",
             **{f"features_{target}": f"features_{target}.npz" for target in SFNET_TARGETS}}


def sfnet_zoobot() -> SfnetZoobot:
    return SfnetZoobot(OUT / "sfnet" / "zoobot", "sfnet_zoobot")


class SfnetFeatures(Folder):
    files = {f"{kind}_{target}": name.format(target)
             for target in SFNET_TARGETS
             for kind, name in (("record", "{}.json"), ("figure", "figure_{}.npz"))}


def sfnet_features() -> SfnetFeatures:
    return SfnetFeatures(OUT / "sfnet" / "features", "sfnet_features")


class SfnetCompare(Folder):
    files = {"runs": "runs.json", "curves": "curves.json"}


def sfnet_compare() -> SfnetCompare:
    return SfnetCompare(OUT / "sfnet" / "compare", "sfnet_compare")


class Trim(Folder):
    files = {"sample": "sample.parquet", "scores": "scores.npz", "curves": "curves.json",
             "bands_example": "bands_example.npy"}


def trim(name: str) -> Trim:
    return Trim(OUT / "trim" / name, f"trim@{name}")


def trim_names() -> list[str]:
    """The trim@<name> outputs present, by folder name."""
    return sorted(p.parent.name for p in (OUT / "trim").glob("*/curves.json"))


class TrimValidate(Folder):
    files = {"datasets": "datasets.json"}


def trim_validate() -> TrimValidate:
    return TrimValidate(OUT / "trim_validate", "trim_validate")


class Estimator(Folder):
    """An SCL model or MI estimator of one input set, and its inference on every galaxy."""

    files = {"predictions": "predictions.parquet", "latent": "latent.npy", "p": "p.npy", "model": "model.keras",
             "input_stats": "input_stats.json", "training_log": "training_log.csv", "summary": "summary.json"}


def scl(dataset: str) -> Estimator:
    return Estimator(OUT / "scl" / dataset, f"scl@{dataset}")


def mi_estimate(dataset: str) -> Estimator:
    return Estimator(OUT / "mi" / "estimate" / dataset, f"mi_estimate@{dataset}")


class Neighbours(Folder):
    files = {"neighbours": "neighbours.npy", "summary": "summary.json"}


def knn(dataset: str) -> Neighbours:
    return Neighbours(OUT / "knn" / dataset, f"knn@{dataset}")


class LocalTests(Folder):
    files = {"tests": "tests.parquet"}


def local_tests(dataset: str) -> LocalTests:
    return LocalTests(OUT / "local_tests" / dataset, f"local_tests@{dataset}")


class Decomposition(Folder):
    files = {"components": "components.parquet", "summary": "summary.json"}


def mi_decompose(pair: str) -> Decomposition:
    return Decomposition(OUT / "mi" / "decompose" / pair, f"mi_decompose@{pair}")


def figures() -> Path:
    return OUT / "figures"


def report() -> Path:
    """out/report.md: every study's headline beside its paper's, with a verdict (stage report)."""
    return OUT / "report.md"


# ----------------------------------------------------------------------------- metrics

def metrics_dir() -> Path:
    return OUT / "metrics"


def metrics_path(name: str) -> Path:
    """out/metrics/<name>.json, declared as a DVC metric by the stage that writes it."""
    return OUT / "metrics" / f"{name}.json"


def write_metrics(name: str, metrics: dict) -> Path:
    """Write a stage's metrics; a stage that ran TensorFlow also records the machine and kernel
    settings its numbers depend on (`galaxy_xai.machine`)."""
    path = metrics_path(name)
    record = machine.record()
    write_json(path, metrics if record is None else {**metrics, "machine": record})
    return path


def read_metrics(name: str, stage: str) -> dict:
    path = metrics_path(name)
    if not path.is_file():
        raise StaleOutputError(f"{path} not found; run the stage {stage} first")
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- truth table

def read_truth(path, columns) -> pd.DataFrame | None:
    """Columns of the simulated universe's truth table (data.truth), or None for real data."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: truth table not found (data.truth; null for real data)")
    truth = pd.read_parquet(path)
    missing = [c for c in columns if c not in truth.columns]
    if missing:
        raise InputError(f"{path}: truth table lacks column(s) {missing}")
    return truth[list(columns)]
