"""Shared fixtures: one tiny simulated universe per test session (and its prepared arrays)."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def universe(tmp_path_factory):
    """~400 galaxies: enough for the statistical checks of the causal model, a few seconds to draw."""
    from galaxy_xai.data.simulate import simulate_universe

    out = tmp_path_factory.mktemp("sim") / "simulated"
    simulate_universe(400, out, seed=7, stamp_size=48, gz_size=64)
    return out


@pytest.fixture(scope="session")
def prepared(universe, tmp_path_factory):
    from galaxy_xai.data.prepare import prepare_galaxy_zoo, prepare_sdss, prepare_stellar_mass

    out = tmp_path_factory.mktemp("prepared")
    prepare_galaxy_zoo(universe / "galaxy_zoo", out / "galaxy_zoo", 48, 0.2, 0, 64)
    prepare_sdss(universe / "sdss", out / "sdss", 48, 0.2, 0, 64)
    prepare_stellar_mass(universe / "stellar_mass", out / "stellar_mass", 64)
    return out
