"""Small I/O helpers shared by every stage: atomic writes, JSON, survey null sentinels."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from galaxy_xai.errors import ParamError


def get_logger(name: str):  # TEMPORARY shim during the refactor
    import logging
    return logging.getLogger(name)


def load_params(path: str | os.PathLike = "params.yaml") -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{path}: params file not found")
    with open(path) as f:
        params = yaml.safe_load(f) or {}
    if not isinstance(params, dict):
        raise ParamError(f"{path}: expected a mapping of stage groups at the top level")
    return params


def require(params: dict, dotted: str, kind, check=None, what: str = "", source="params.yaml"):
    """Fetch params['a']['b'] for 'a.b', check its type (and an optional predicate), or fail clearly."""
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"{source}: missing key '{dotted}'")
        node = node[part]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(node, bool) and bool not in kinds:
        raise ParamError(f"{source}: key '{dotted}' must be {what or kinds[0].__name__}, got {node!r}")
    if not isinstance(node, kinds):
        raise ParamError(f"{source}: key '{dotted}' must be {what or kinds[0].__name__}, got {node!r}")
    if check is not None and not check(node):
        raise ParamError(f"{source}: key '{dotted}' must be {what}, got {node!r}")
    return node


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


def check_known(params: dict, group: str, allowed, source="params.yaml") -> dict:
    """The params group as a dict, failing on a key nobody reads (usually a typo)."""
    node = params.get(group)
    if not isinstance(node, dict):
        raise ParamError(f"{source}: missing group '{group}' (a mapping)")
    unknown = sorted(set(node) - set(allowed))
    if unknown:
        raise ParamError(f"{source}: unknown key(s) {['{}.{}'.format(group, k) for k in unknown]}; known: {sorted(allowed)}")
    return node
