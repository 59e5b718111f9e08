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


# ---------------------------------------------------------------- values (issue 22)

def _edit_votes(gz, edit):
    csv = gz / "training_solutions_rev1.csv"
    df = pd.read_csv(csv, dtype=str)
    edit(df)
    df.to_csv(csv, index=False)
    return df


@pytest.mark.parametrize("value, message", [
    ("abc", r"column 'Class1.1' of GalaxyID \d+ \(line 4\) holds 'abc', expected a number"),
    ("1.7", r"GalaxyID \d+ \(line 4\) has Class1.1 = 1.7, outside \[0, 1\] \(tolerance 0.01\)"),
    ("-0.2", r"GalaxyID \d+ \(line 4\) has Class1.1 = -0.2, outside \[0, 1\]"),
    ("", r"GalaxyID \d+ \(line 4\) has no value in Class1.1; every labelled galaxy needs all 37"),
])
def test_bad_vote_cells_are_named(gz_copy, tmp_path, value, message):
    def edit(df):
        df.loc[2, "Class1.1"] = value
    _edit_votes(gz_copy, edit)
    with pytest.raises(InputError, match=message):
        read_galaxy_zoo(gz_copy)
    with pytest.raises(InputError, match=message):
        prepare_galaxy_zoo(gz_copy, Prepared(tmp_path / "out"), 32, 0.2, 0, 16)
    assert not (tmp_path / "out").exists()


def test_votes_that_break_the_decision_tree_are_refused(gz_copy):
    def edit(df):  # a smooth galaxy's "how round" answers no longer sum to its smooth fraction
        df.loc[5, "Class7.1"] = str(float(df.loc[5, "Class7.1"]) + 0.3)
    _edit_votes(gz_copy, edit)
    with pytest.raises(InputError, match=r"\(line 7\) has question 7's answers summing to .*, but the decision tree "
                                         r"needs .* \(Class1.1; tolerance 0.01\)"):
        read_galaxy_zoo(gz_copy)
    read_galaxy_zoo(gz_copy, vote_tolerance=0.5)  # a stated tolerance decides


def test_votes_within_tolerance_pass(gz_copy):
    def edit(df):  # printed to 6 digits: sums off by 1e-6
        df.loc[1, "Class1.1"] = str(float(df.loc[1, "Class1.1"]) + 1e-6)
    _edit_votes(gz_copy, edit)
    assert read_galaxy_zoo(gz_copy).votes["labelled"].sum() > 0


def test_galaxy_ids_written_through_a_float_are_refused(gz_copy):
    def edit(df):
        df["GalaxyID"] = df["GalaxyID"].astype(float).map(lambda v: f"{v:.1f}")
    _edit_votes(gz_copy, edit)
    with pytest.raises(InputError, match="column 'GalaxyID' must hold integer ids, got e.g. .*written through a float"):
        read_galaxy_zoo(gz_copy)


def _edit_sdss(universe, tmp_path, edit):
    """A copy of the SDSS folder whose galaxies.csv went through `edit(df)`."""
    src = tmp_path / "sdss"
    shutil.copytree(universe / "sdss", src)
    df = pd.read_csv(src / "galaxies.csv", dtype={"objID": str})
    edit(df)
    df.to_csv(src / "galaxies.csv", index=False)
    return src


def test_sdss_object_ids_rounded_through_a_float_are_refused(universe, tmp_path):
    """objIDs written through a float collide; they used to be dropped as duplicates without a word."""
    def edit(df):
        df["objID"] = df["objID"].astype(float).map(lambda v: f"{v:.4e}")
    src = _edit_sdss(universe, tmp_path, edit)
    with pytest.raises(InputError, match=r"objID '.*e\+.*' \(line 2\) is not an integer; it looks like a float-rounded"):
        read_sdss(src, "metallicity")


def test_duplicate_sdss_object_ids_are_refused(universe, tmp_path):
    def edit(df):
        df.loc[3, "objID"] = df.loc[2, "objID"]
    src = _edit_sdss(universe, tmp_path, edit)
    with pytest.raises(InputError, match=r"objID \d+ appears 2 times; objIDs must be unique"):
        read_sdss(src, "lines")


def test_a_sample_emptied_by_null_sentinels_is_refused_in_prepare(universe, tmp_path):
    """-9999 in every oh_p50: prepare used to pass it with "0 metallicity", and sfnet_dense died in Keras."""
    def edit(df):
        df["oh_p50"] = -9999.0
    src = _edit_sdss(universe, tmp_path, edit)
    with pytest.raises(InputError, match=r"the metallicity sample's train split has 0 galaxies; the SFNet metallicity "
                                         r"study \(after the paper's sample cuts\) needs at least 3 \(prepare.min_per_split\)"):
        prepare_sdss(src, Prepared(tmp_path / "out"), 32, 0.2, 0, 16)
    assert not (tmp_path / "out").exists()


def test_too_few_labelled_galaxies_per_split_are_refused(universe, tmp_path):
    with pytest.raises(InputError, match=r"the train split of the labelled galaxies has [1-9]\d* galaxies; training "
                                         r"and validating the morphology CNNs needs at least 1000 \(prepare.min_per_split\)"):
        prepare_galaxy_zoo(universe / "galaxy_zoo", Prepared(tmp_path / "out"), 32, 0.2, 0, 16, min_per_split=1000)


def test_bar_galaxies_with_a_null_radius_are_left_out_and_counted(gz_copy):
    before = read_galaxy_zoo(gz_copy).bars
    csv = gz_copy / "gz2sample.csv"
    df = pd.read_csv(csv)
    df.loc[df["OBJID"] == before["objid"].iloc[0], "PETROR90_R"] = -9999.0
    df.to_csv(csv, index=False)
    after = read_galaxy_zoo(gz_copy)
    assert len(after.bars) == len(before) - 1 and after.bars_dropped == 1
    assert before["objid"].iloc[0] not in set(after.bars["objid"])


def test_bar_catalogue_ids_written_through_a_float_are_refused(gz_copy):
    csv = gz_copy / "hoyle_barlengths.csv"
    df = pd.read_csv(csv)
    df["objid"] = df["objid"].astype(float)
    df.to_csv(csv, index=False)
    with pytest.raises(InputError, match="hoyle_barlengths.csv: column 'objid' must hold integer ids"):
        read_galaxy_zoo(gz_copy)


def test_stellar_mass_keys_of_different_lengths_are_named(universe, tmp_path):
    """Used to crash in pandas ("All arrays must be of the same length") before the project's check."""
    src = tmp_path / "sm"
    shutil.copytree(universe / "stellar_mass", src)
    cat = dict(np.load(src / "catalog.npz"))
    cat["z"] = cat["z"][:-3]
    np.savez(src / "catalog.npz", **cat)
    n = len(cat["lgm_tot_p50"])
    with pytest.raises(InputError, match=rf"catalog.npz: key 'z' has shape \({n - 3},\), expected \({n},\) like 'lgm_tot_p50'"):
        read_stellar_mass(src)


def test_stellar_mass_galaxy_in_two_splits_is_refused(universe, tmp_path):
    src = tmp_path / "sm"
    shutil.copytree(universe / "stellar_mass", src)
    cat = dict(np.load(src / "catalog.npz"))
    cat["id_test"] = np.concatenate([cat["id_test"], cat["id_train"][:1]])
    np.savez(src / "catalog.npz", **cat)
    with pytest.raises(InputError, match=r"row \d+ is listed twice in the id_train / id_validation / id_test keys"):
        read_stellar_mass(src)
