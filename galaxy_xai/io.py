"""Small I/O helpers shared by every stage: atomic writes, JSON, survey null sentinels."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

# Temporary siblings are named `.tmp-<pid>-<name>-<random>`: git ignores them (.gitignore), and a
# later stage start removes those whose process is gone (`sweep_stale_temps`), e.g. after SIGKILL.
TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds.

    Works for files and directories, so a crash never leaves a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{TMP_PREFIX}{os.getpid()}-{path.name}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def sweep_stale_temps(root) -> list[Path]:
    """Remove the temporary siblings under `root` left by processes that no longer run (a killed
    stage); those of a live process (a concurrent run) stay. Returns what was removed."""
    removed = []
    for tmp in Path(root).rglob(f"{TMP_PREFIX}*"):
        pid = tmp.name[len(TMP_PREFIX):].split("-", 1)[0]
        if tmp.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def write_json(path, obj) -> None:
    """Write JSON atomically. NaN and infinities are refused (a bug of the caller): an undefined
    statistic is written as null beside a flag that says why."""
    bad = non_finite_keys(obj)
    if bad:
        raise ValueError(f"{path}: non-finite value(s) at {bad[:5]}; write null and say why instead")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
            f.write("\n")


def non_finite_keys(obj, where="") -> list[str]:
    """Paths (a.b[2]) of the NaN / infinite numbers in a JSON-like object."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in non_finite_keys(v, f"{where}.{k}" if where else str(k))]
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [p for i, v in enumerate(obj) for p in non_finite_keys(v, f"{where}[{i}]")]
    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return [where or "<value>"]
    return []


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
