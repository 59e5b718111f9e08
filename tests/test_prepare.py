"""prepare writes the documented layout (docs/prepared_layout.md), independent of the chunk size."""
import numpy as np
import pandas as pd

from galaxy_xai.data.formats import VOTE_COLUMNS
from galaxy_xai.data.prepare import prepare_sdss, seeded_split


def test_galaxy_zoo_layout(prepared, universe):
    cat = pd.read_parquet(prepared / "galaxy_zoo" / "catalog.parquet")
    images = np.load(prepared / "galaxy_zoo" / "images.npy", mmap_mode="r")
    assert images.shape == (len(cat), 48, 48, 3) and images.dtype == np.uint8
    assert set(cat["split"]) == {"train", "validation", "test"}
    assert cat.loc[cat["split"] == "test", VOTE_COLUMNS].isna().all().all()
    assert cat.loc[cat["split"] != "test", VOTE_COLUMNS].notna().all().all()
    assert cat["GalaxyID"].is_unique and (cat["row"] == np.arange(len(cat))).all()
    bars = pd.read_parquet(prepared / "galaxy_zoo" / "bars.parquet")
    assert (bars["orig_width"] == 64).all()
    assert np.load(prepared / "galaxy_zoo" / "bar_images.npy", mmap_mode="r").shape[0] == len(bars)
    assert images[:].std() > 5  # real pictures, not a blank array


def test_sdss_layout(prepared):
    cat = pd.read_parquet(prepared / "sdss" / "catalog.parquet")
    assert cat["in_metallicity"].any() and cat["in_lines"].any()
    assert cat.loc[cat["in_lines"], ["log_N2", "log_Ha", "log_O3", "log_Hb"]].notna().all().all()
    assert set(cat["split"]) == {"train", "validation"}


def test_stellar_mass_layout(prepared, universe):
    cat = pd.read_parquet(prepared / "stellar_mass" / "catalog.parquet")
    images = np.load(prepared / "stellar_mass" / "images.npy", mmap_mode="r")
    assert images.shape == (len(cat), 48, 48, 5) and images.dtype == np.float32
    raw = np.load(universe / "stellar_mass" / "images.npz")
    np.testing.assert_array_equal(images[..., 2], raw["img_r"])
    assert (cat["w3mpro"] >= 9000).any(), "null sentinels are kept for the stages to handle"


def test_chunk_size_does_not_change_the_output(universe, tmp_path):
    prepare_sdss(universe / "sdss", tmp_path / "a", 32, 0.2, 0, 7)
    prepare_sdss(universe / "sdss", tmp_path / "b", 32, 0.2, 0, 500)
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "images.npy"), np.load(tmp_path / "b" / "images.npy"))


def test_seeded_split_fractions():
    split = seeded_split(1000, {"validation": 0.2, "train": 0.8}, seed=1)
    assert (split == "validation").sum() == 200 and (split == "train").sum() == 800
    assert (split == seeded_split(1000, {"validation": 0.2, "train": 0.8}, seed=1)).all()
