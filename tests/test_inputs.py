"""Bad input fails with one clear sentence naming the file / column / key, and writes nothing."""
import shutil

import numpy as np
import pandas as pd
import pytest

from galaxy_xai.data.formats import read_galaxy_zoo, read_sdss, read_stellar_mass
from galaxy_xai.data.prepare import prepare_galaxy_zoo, prepare_sdss
from galaxy_xai.errors import InputError
from galaxy_xai.layout import Prepared


@pytest.fixture
def gz_copy(universe, tmp_path):
    dst = tmp_path / "gz"
    shutil.copytree(universe / "galaxy_zoo", dst)
    return dst


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="nowhere: data folder not found"):
        read_galaxy_zoo(tmp_path / "nowhere")
    with pytest.raises(InputError, match="data folder not found"):
        read_stellar_mass(tmp_path / "nowhere")


def test_csv_without_a_required_column(gz_copy, tmp_path):
    csv = gz_copy / "hoyle_barlengths.csv"
    pd.read_csv(csv).drop(columns="length_scaled").to_csv(csv, index=False)
    with pytest.raises(InputError, match=r"hoyle_barlengths.csv: missing required column\(s\) \['length_scaled'\]"):
        read_galaxy_zoo(gz_copy)
    with pytest.raises(InputError):
        prepare_galaxy_zoo(gz_copy, Prepared(tmp_path / "out"), 32, 0.2, 0, 16)
    assert not (tmp_path / "out").exists()


def test_missing_image_is_named(gz_copy):
    victim = sorted((gz_copy / "images_training_rev1").glob("*.jpg"))[3]
    victim.unlink()
    with pytest.raises(InputError, match=f"have no image, e.g. .*{victim.name}"):
        read_galaxy_zoo(gz_copy)


def test_corrupt_image_is_named_and_nothing_written(universe, tmp_path):
    src = tmp_path / "sdss"
    shutil.copytree(universe / "sdss", src)
    victim = sorted((src / "images-sdss").glob("*.jpg"))[5]
    victim.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=f"{victim.name}: image cannot be decoded"):
        prepare_sdss(src, Prepared(tmp_path / "out"), 32, 0.2, 0, 16)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*")), "temporary output left behind"


def test_catalogue_ids_without_images(universe, tmp_path):
    src = tmp_path / "sdss"
    shutil.copytree(universe / "sdss", src)
    df = pd.read_csv(src / "galaxies.csv", dtype={"objID": str})
    extra = df[df["oh_p50"] > 0].iloc[:1].copy()
    extra["objID"] = "999999999"
    pd.concat([df, extra]).to_csv(src / "galaxies.csv", index=False)
    with pytest.raises(InputError, match="images-sdss: 1 catalogue id\\(s\\) have no image, e.g. .*999999999.jpg"):
        read_sdss(src, "metallicity")


def test_stellar_mass_missing_key(universe, tmp_path):
    src = tmp_path / "sm"
    shutil.copytree(universe / "stellar_mass", src)
    cat = dict(np.load(src / "catalog.npz"))
    del cat["expAB_r"]
    np.savez(src / "catalog.npz", **cat)
    with pytest.raises(InputError, match=r"catalog.npz: missing key\(s\) \['expAB_r'\]"):
        read_stellar_mass(src)


def test_sdss_object_ids_stay_strings(universe):
    df = read_sdss(universe / "sdss", "metallicity")
    assert df["objID"].map(type).eq(str).all()
    assert (df["oh_p50"] > 0).all()
