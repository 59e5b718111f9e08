"""Small I/O helpers shared by every stage: atomic writes, JSON, survey null sentinels."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds.

    Works for files and directories, so a crash never leaves a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
            f.write("\n")


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x)}")


def save_npy(path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)
        # np.save appends .npy when missing; keep the exact name
        if not tmp.exists() and tmp.with_suffix(tmp.suffix + ".npy").exists():
            os.replace(tmp.with_suffix(tmp.suffix + ".npy"), tmp)


def is_null(values: np.ndarray) -> np.ndarray:
    """Survey null sentinels (|v| >= 9000) and NaNs, as one boolean mask."""
    values = np.asarray(values, dtype=float)
    return ~np.isfinite(values) | (np.abs(values) >= 9000)
