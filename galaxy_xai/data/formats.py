"""Readers for the three real survey layouts (SPEC §1.1). The simulator is only one writer of them.

Each reader checks what it needs and fails with one sentence naming the file, column or key.
Images are not loaded here (only their paths are checked), so catalogues of any size stay cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_xai.domain import BANDS, GZ_QUESTIONS, SFNET_TARGETS, TREE_PARENT, VOTE_COLUMNS
from galaxy_xai.errors import InputError
from galaxy_xai.io import is_null

# The surveys' column names, read here and written by the simulator (galaxy_xai.data.simulate).
LINES = ["nii_6584", "h_alpha", "oiii_5007", "h_beta"]  # MPA-JHU <line>_flux and <line>_flux_err
LINE_TARGETS = {"nii_6584": "log_N2", "h_alpha": "log_Ha", "oiii_5007": "log_O3", "h_beta": "log_Hb"}
SDSS_COLUMNS = ["objID", "oh_p50", "lgm_tot_p50", "sfr_tot_p50"] + [f"{l}_flux{s}" for l in LINES for s in ("", "_err")]
WISE_KEYS = ["w1mpro", "w2mpro", "w3mpro", "w1sigmpro", "w2sigmpro"]
PHOTOMETRY_STEMS = ["petroMag", "petroMagErr", "petroFlux", "Sersic_n", "expAB", "petroR50", "petroR90"]  # <stem>_<band>
STELLAR_MASS_KEYS = (["lgm_tot_p50", "z", "EBV"] + WISE_KEYS
                     + [f"{stem}_{b}" for stem in PHOTOMETRY_STEMS for b in BANDS])


def _folder(path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: data folder not found")
    return path


def _csv(path: Path, required, dtype=None) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, dtype=dtype)
    except Exception as err:  # pandas raises many kinds; one clear sentence is what users need
        raise InputError(f"{path}: cannot be read as CSV ({err})") from err
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing required column(s) {missing}")
    return df


def _integer_ids(df: pd.DataFrame, column: str, path: Path, unique: bool = True) -> None:
    """Survey ids are 64-bit integers: a column pandas could not read as integers held a float
    (an id written through a float loses its last digits, and different galaxies collide)."""
    if not pd.api.types.is_integer_dtype(df[column]):
        bad = df[column].iloc[0] if len(df) else None
        raise InputError(f"{path}: column {column!r} must hold integer ids, got e.g. {bad!r} "
                         "(an id written through a float is rounded; write ids as integers)")
    if not unique:
        return
    dup = df[column].duplicated()
    if dup.any():
        raise InputError(f"{path}: {column} {df.loc[dup, column].iloc[0]} appears {int((df[column] == df.loc[dup, column].iloc[0]).sum())} times; ids must be unique")


def _numeric(df: pd.DataFrame, columns, path: Path, id_column: str) -> pd.DataFrame:
    """The columns as float64, or one sentence naming the first cell that is not a number."""
    for col in columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        parsed = pd.to_numeric(df[col], errors="coerce")
        row = int(np.flatnonzero(parsed.isna() & df[col].notna())[0])
        raise InputError(f"{path}: column {col!r} of {id_column} {df[id_column].iloc[row]} (line {row + 2}) holds "
                         f"{df[col].iloc[row]!r}, expected a number")
    return df.astype({c: "float64" for c in columns})


def check_votes(votes: pd.DataFrame, path, tolerance: float) -> None:
    """Galaxy Zoo vote fractions: no NaN, each in [0, 1] and each question's answers summing to the
    answer that leads to it (domain.TREE_PARENT), all within `tolerance`; one sentence naming the
    galaxy, the column and the rule otherwise."""
    values = votes[VOTE_COLUMNS].to_numpy(dtype=float)
    ids = votes["GalaxyID"].to_numpy()

    def refuse(row, what):
        raise InputError(f"{path}: GalaxyID {ids[row]} (line {row + 2}) {what}")

    nan = np.isnan(values)
    if nan.any():
        row, col = np.argwhere(nan)[0]
        refuse(row, f"has no value in {VOTE_COLUMNS[col]}; every labelled galaxy needs all 37 vote fractions")
    out = (values < -tolerance) | (values > 1 + tolerance)
    if out.any():
        row, col = np.argwhere(out)[0]
        refuse(row, f"has {VOTE_COLUMNS[col]} = {values[row, col]:g}, outside [0, 1] (tolerance {tolerance:g})")
    for q, parent in TREE_PARENT.items():
        cols = [VOTE_COLUMNS.index(f"Class{q}.{a}") for a in range(1, GZ_QUESTIONS[q] + 1)]
        total = values[:, cols].sum(axis=1)
        expected = np.ones(len(values)) if parent is None else values[:, VOTE_COLUMNS.index(parent)]
        bad = np.abs(total - expected) > tolerance
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            refuse(row, f"has question {q}'s answers summing to {total[row]:.4f}, but the decision tree needs "
                        f"{expected[row]:.4f} ({'1' if parent is None else parent}; tolerance {tolerance:g})")


def _check_images(paths: pd.Series, what: str) -> None:
    """Every catalogue id needs its image; name the first few missing ones."""
    exists = paths.map(lambda p: Path(p).is_file())
    if not exists.all():
        missing = paths[~exists]
        raise InputError(f"{what}: {len(missing)} catalogue id(s) have no image, e.g. {missing.iloc[0]}")


@dataclass
class GalaxyZoo:
    votes: pd.DataFrame  # GalaxyID, labelled, 37 vote columns (NaN when unlabelled), image
    bars: pd.DataFrame  # objid, asset_id, length_scaled, PETROR90_R, image
    bars_dropped: int = 0  # bar galaxies left out for a null length or R90


def read_galaxy_zoo(path, vote_tolerance: float = 0.01) -> GalaxyZoo:
    """Kaggle Galaxy Challenge votes + images, and the GZ2 bar catalogue with its images.

    Votes are checked (`check_votes`, within `vote_tolerance`); ids must be unique integers; bar
    galaxies with a null length or R90 (NaN or a |v| >= 9000 sentinel) are left out, counted in
    `GalaxyZoo.bars_dropped`."""
    root = _folder(path)
    sol_path = root / "training_solutions_rev1.csv"
    sol = _csv(sol_path, ["GalaxyID"] + VOTE_COLUMNS)
    _integer_ids(sol, "GalaxyID", sol_path)
    sol = _numeric(sol, VOTE_COLUMNS, sol_path, "GalaxyID")
    check_votes(sol, sol_path, vote_tolerance)
    sol["labelled"] = True
    sol["image"] = [str(root / "images_training_rev1" / f"{g}.jpg") for g in sol["GalaxyID"]]
    _check_images(sol["image"], str(root / "images_training_rev1"))
    test_dir = root / "images_test_rev1" / "images"
    test_ids = sorted(int(p.stem) for p in test_dir.glob("*.jpg")) if test_dir.is_dir() else []
    test = pd.DataFrame({"GalaxyID": test_ids, "labelled": False, "image": [str(test_dir / f"{g}.jpg") for g in test_ids]})
    votes = pd.concat([sol, test], ignore_index=True)
    if votes["GalaxyID"].duplicated().any():
        raise InputError(f"{root}: GalaxyID {votes.loc[votes['GalaxyID'].duplicated(), 'GalaxyID'].iloc[0]} appears twice")
    mapping = _csv(root / "gz2_filename_mapping.csv", ["objid", "asset_id"])
    hoyle = _csv(root / "hoyle_barlengths.csv", ["objid", "length_scaled"])
    sample = _csv(root / "gz2sample.csv", ["OBJID", "PETROR90_R"])
    _integer_ids(hoyle, "objid", root / "hoyle_barlengths.csv")
    _integer_ids(sample, "OBJID", root / "gz2sample.csv")
    for column in ("objid", "asset_id"):  # the mapping may list a galaxy twice (de-duplicated below)
        _integer_ids(mapping, column, root / "gz2_filename_mapping.csv", unique=False)
    hoyle = _numeric(hoyle, ["length_scaled"], root / "hoyle_barlengths.csv", "objid")
    sample = _numeric(sample, ["PETROR90_R"], root / "gz2sample.csv", "OBJID")
    bars = hoyle[["objid", "length_scaled"]].merge(mapping[["objid", "asset_id"]].drop_duplicates("objid"), on="objid", how="left")
    bars = bars.merge(sample[["OBJID", "PETROR90_R"]].rename(columns={"OBJID": "objid"}).drop_duplicates("objid"), on="objid", how="left")
    bars = bars.dropna(subset=["asset_id", "PETROR90_R"]).astype({"asset_id": "int64"})
    usable = ~is_null(bars["length_scaled"]) & ~is_null(bars["PETROR90_R"]) & (bars["PETROR90_R"] > 0)
    dropped = int((~usable).sum())
    bars = bars[usable]
    bars["image"] = [str(root / "images_gz2" / "images" / f"{a}.jpg") for a in bars["asset_id"]]
    _check_images(bars["image"], str(root / "images_gz2" / "images"))
    return GalaxyZoo(votes=votes, bars=bars.reset_index(drop=True), bars_dropped=dropped)


def read_sdss(path, target: str) -> pd.DataFrame:
    """SFNet emission-line sample with the paper's cuts; `target` is 'metallicity' or 'lines'."""
    if target not in SFNET_TARGETS:
        raise InputError(f"read_sdss: target must be one of {list(SFNET_TARGETS)}, got {target!r}")
    root = _folder(path)
    path = root / "galaxies.csv"
    df = _csv(path, SDSS_COLUMNS, dtype={"objID": str})
    check_object_ids(df["objID"], path)
    df = _numeric(df, [c for c in SDSS_COLUMNS if c != "objID"], path, "objID")
    df = add_line_targets(df)
    df = df[sample_mask(df, target)].reset_index(drop=True)
    df["image"] = [str(root / "images-sdss" / f"{o}.jpg") for o in df["objID"]]
    _check_images(df["image"], str(root / "images-sdss"))
    return df


def check_object_ids(ids: pd.Series, path) -> None:
    """SDSS objIDs are 64-bit integers read as text: each must be all digits (one written through a
    float, like 1.2376e+18 or 1237648720693755904.0, has lost digits) and unique."""
    digits = ids.astype(str).str.fullmatch(r"\d+")
    if not digits.all():
        row = int(np.flatnonzero(~digits.to_numpy())[0])
        raise InputError(f"{path}: objID {ids.iloc[row]!r} (line {row + 2}) is not an integer; it looks like a "
                         "float-rounded 64-bit id (write objIDs as integers)")
    dup = ids.duplicated()
    if dup.any():
        raise InputError(f"{path}: objID {ids[dup].iloc[0]} appears {int((ids == ids[dup].iloc[0]).sum())} times; "
                         "objIDs must be unique")


def add_line_targets(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for line, name in LINE_TARGETS.items():
        flux = df[f"{line}_flux"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            df[name] = np.where((flux > 0) & ~is_null(flux), np.log10(flux), np.nan)
    return df


def sample_mask(df: pd.DataFrame, target: str) -> np.ndarray:
    """The paper's cuts. Metallicity: oh > 0, M* > 0, SFR > -10. Lines: S/N > 3 in all four, flux < 1e5."""
    if target == "metallicity":
        oh, m, sfr = (df[c].to_numpy(dtype=float) for c in ("oh_p50", "lgm_tot_p50", "sfr_tot_p50"))
        return (oh > 0) & (m > 0) & (sfr > -10) & ~is_null(oh) & ~is_null(m) & ~is_null(sfr)
    ok = np.ones(len(df), dtype=bool)
    for line in LINES:
        flux, err = df[f"{line}_flux"].to_numpy(dtype=float), df[f"{line}_flux_err"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ok &= ~is_null(flux) & ~is_null(err) & (err > 0) & (flux / err > 3) & (flux < 1e5)
    return ok


def read_stellar_mass(path):
    """Stellar-mass catalogue (one row per galaxy, with split) and the lazily loaded ugriz images."""
    root = _folder(path)
    cat_path, img_path = root / "catalog.npz", root / "images.npz"
    for p in (cat_path, img_path):
        if not p.is_file():
            raise InputError(f"{p}: file not found")
    try:
        cat = np.load(cat_path)
        images = {k: npz_member(img_path, k) for k in np.load(img_path).files}
    except Exception as err:
        raise InputError(f"{cat_path.parent}: catalog.npz / images.npz cannot be read ({err})") from err
    missing = [k for k in STELLAR_MASS_KEYS + ["id_train", "id_validation", "id_test"] if k not in cat.files]
    if missing:
        raise InputError(f"{cat_path}: missing key(s) {missing}")
    n = len(cat["lgm_tot_p50"])
    columns = {k: np.asarray(cat[k]) for k in STELLAR_MASS_KEYS}
    for k, v in columns.items():
        if v.ndim != 1 or len(v) != n:
            raise InputError(f"{cat_path}: key {k!r} has shape {v.shape}, expected ({n},) like 'lgm_tot_p50'")
        if not np.issubdtype(v.dtype, np.number):
            raise InputError(f"{cat_path}: key {k!r} holds {v.dtype} values, expected numbers")
    df = pd.DataFrame({k: v.astype(float) for k, v in columns.items()})
    split = np.full(n, "", dtype=object)
    for name in ("train", "validation", "test"):
        idx = np.asarray(cat[f"id_{name}"])
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise InputError(f"{cat_path}: key 'id_{name}' holds {idx.dtype} values, expected integer row indices")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise InputError(f"{cat_path}: key 'id_{name}' has row indices outside 0..{n - 1}")
        twice = idx[split[idx] != ""]
        if twice.size or len(np.unique(idx)) != len(idx):
            row = twice[0] if twice.size else idx[np.unique(idx, return_counts=True)[1].argmax()]
            raise InputError(f"{cat_path}: row {row} is listed twice in the id_train / id_validation / id_test keys; "
                             "each galaxy belongs to one split")
        split[idx] = name
    df["split"] = split
    bands = [f"img_{b}" for b in BANDS]
    missing = [k for k in bands if k not in images]
    if missing:
        raise InputError(f"{img_path}: missing key(s) {missing}")
    return df, {b: images[f"img_{b}"] for b in BANDS}


def npz_member(path, key: str) -> np.ndarray:
    """One array of an .npz, memory-mapped when stored uncompressed (else loaded), so catalogues
    of any size can be streamed."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return np.load(path)[key]
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
            start = info.header_offset + 30 + name_len + extra_len
            f.seek(start)
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
