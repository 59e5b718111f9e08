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
