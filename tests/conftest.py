"""Shared fixtures: one tiny simulated universe per test session (and its prepared arrays)."""
import os
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def repo_params():
    """The repository's params.yaml, as the stages read it."""
    from galaxy_xai.config import read_params

    return read_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def simulate_cfg(repo_params):
    from galaxy_xai.config import simulate as simulate_config

    return simulate_config.load(repo_params)


@pytest.fixture(scope="session")
def universe(simulate_cfg, tmp_path_factory):
    """~400 galaxies: enough for the statistical checks of the causal model, a few seconds to draw."""
    from galaxy_xai.data.simulate import simulate_universe

    out = tmp_path_factory.mktemp("sim") / "simulated"
    simulate_universe(replace(simulate_cfg, n_galaxies=400, seed=7, stamp_size=48, gz_size=64), out)
    return out


@pytest.fixture(scope="session")
def prepared(universe, tmp_path_factory):
    from galaxy_xai.data.prepare import prepare_galaxy_zoo, prepare_sdss, prepare_stellar_mass
    from galaxy_xai.layout import Prepared

    out = tmp_path_factory.mktemp("prepared")
    prepare_galaxy_zoo(universe / "galaxy_zoo", Prepared(out / "galaxy_zoo"), 48, 0.2, 0, 64)
    prepare_sdss(universe / "sdss", Prepared(out / "sdss"), 48, 0.2, 0, 64)
    prepare_stellar_mass(universe / "stellar_mass", Prepared(out / "stellar_mass"), 64)
    return out


@pytest.fixture
def tiny_sfnet(tmp_path, repo_params):
    """A factory for a 48-galaxy metallicity universe as the SFNet studies see it: `make(seed, **cfg)`
    returns a namespace with the sfnet params shrunk (32 px crops, no fine-tuning, a few bootstrap
    draws; `cfg` overrides), the catalogue (30 train / 12 validation / 6 test), random images, the
    train / validation samples and their standardiser, and a random dense twin saved as
    sfnet_dense would save it (`dense`, the folder; `twin`, the model)."""
    import dataclasses
    from types import SimpleNamespace

    import keras
    import numpy as np
    import pandas as pd

    from galaxy_xai import layout
    from galaxy_xai.config import sfnet as sfnet_config
    from galaxy_xai.models.sfnet import build_dense_twin
    from galaxy_xai.models.sfnet_training import Standardiser, save_trained, target_sample

    def make(seed, **cfg_changes):
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        n = 48
        catalog = pd.DataFrame({"objID": [f"g{i}" for i in range(n)], "row": range(n), "in_metallicity": True,
                                "oh_p50": rng.normal(9.0, 0.2, n),
                                "split": ["train"] * 30 + ["validation"] * 12 + ["test"] * 6})
        images = (rng.random((n, 32, 32, 3)) * 255).astype(np.uint8)
        cfg = dataclasses.replace(sfnet_config.load(repo_params), crop=32, repeats=1, epochs=0, init="dense",
                                  n_bootstrap=100, batch_size=8, xgboost={"n_estimators": 3, "max_depth": 2},
                                  **cfg_changes)
        train, val = target_sample(catalog, "metallicity")
        scaler = Standardiser.fit(train[["oh_p50"]])
        dense = layout.ModelFolder(tmp_path / "dense")
        dense.dir.mkdir()
        twin = build_dense_twin(1, images.shape[1:])
        save_trained(dense, twin, images, train, val, ["oh_p50"], scaler, 8)
        return SimpleNamespace(rng=rng, n=n, catalog=catalog, images=images, cfg=cfg, train=train, val=val,
                               scaler=scaler, dense=dense, twin=twin)
    return make
