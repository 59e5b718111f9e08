"""prepare writes the documented layout (docs/prepared_layout.md), independent of the chunk size."""
import numpy as np
import pandas as pd
from PIL import Image

from galaxy_xai.data.formats import read_galaxy_zoo
from galaxy_xai.data.prepare import prepare_galaxy_zoo, prepare_sdss, seeded_split
from galaxy_xai.data.images import centre_crop
from galaxy_xai.domain import VOTE_COLUMNS
from galaxy_xai.layout import Prepared


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
    prepare_sdss(universe / "sdss", Prepared(tmp_path / "a"), 32, 0.2, 0, 7)
    prepare_sdss(universe / "sdss", Prepared(tmp_path / "b"), 32, 0.2, 0, 500)
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "images.npy"), np.load(tmp_path / "b" / "images.npy"))


def test_prepared_layout_round_trips_through_its_writer_and_loader(universe, tmp_path):
    """What the reader saw of the source layout comes back, row for row, from layout.Prepared."""
    seen = read_galaxy_zoo(universe / "galaxy_zoo")
    folder = Prepared(tmp_path / "galaxy_zoo")
    # the source cut-outs are 64 px: at 64 the images are stored as decoded, pixel for pixel
    prepare_galaxy_zoo(universe / "galaxy_zoo", folder, 64, 0.2, 0, 50)
    assert sorted(p.name for p in folder.dir.iterdir()) == sorted(Prepared.files.values())
    cat, images = folder.read_catalog(), folder.read_images()
    votes = seen.votes.sort_values("GalaxyID").reset_index(drop=True)
    np.testing.assert_array_equal(cat["GalaxyID"], votes["GalaxyID"])
    np.testing.assert_array_equal(cat["labelled"], votes["labelled"])
    pd.testing.assert_frame_equal(cat[VOTE_COLUMNS], votes[VOTE_COLUMNS])
    assert folder.read_catalog(["GalaxyID", "row"]).columns.tolist() == ["GalaxyID", "row"]
    for i in (0, len(cat) // 2, len(cat) - 1):
        with Image.open(votes.loc[i, "image"]) as im:
            np.testing.assert_array_equal(images[cat.loc[i, "row"]], np.asarray(im.convert("RGB")))
    bars, bar_images = folder.read_bars(), folder.read_images("bar_images")
    hoyle = seen.bars.sort_values("objid").reset_index(drop=True)
    pd.testing.assert_frame_equal(bars[["objid", "length_scaled", "PETROR90_R"]],
                                  hoyle[["objid", "length_scaled", "PETROR90_R"]])
    assert isinstance(images, np.memmap) and bar_images.shape == (len(bars), 64, 64, 3)
    assert centre_crop(images, 32).shape == (len(cat), 32, 32, 3)


def test_seeded_split_fractions():
    split = seeded_split(1000, {"validation": 0.2, "train": 0.8}, seed=1)
    assert (split == "validation").sum() == 200 and (split == "train").sum() == 800
    assert (split == seeded_split(1000, {"validation": 0.2, "train": 0.8}, seed=1)).all()
