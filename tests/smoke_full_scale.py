"""Full-scale smoke run (issue 23): every stage with the full-scale override's shapes and settings
(README "Sizing": 224 px, width 1.0, 520 bins, all five SCL sets, every MI pair, both SFNet targets,
every k of the paper) on a universe of 200 galaxies with one or two steps each, through
`dvc repro` in a temporary clone (as tests/test_pipeline.py builds it). A shape or param error at
full scale shows up here, in minutes, not after a day on a cluster.

    make smoke                                  # or: .venv/bin/python tests/smoke_full_scale.py [--keep]

Not part of `make test`. Left out of the override: model.weights=imagenet (needs network; a local
file is tested in tests/test_distribute.py), simulate.n_galaxies, and the step counts (epochs,
iterations, samples), which are the point of shrinking.
"""
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_pipeline", ROOT / "tests" / "test_pipeline.py")
pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pipeline)

# The README's full-scale override, minus the step counts and the network download.
FULL_SHAPES = {
    "data.img_height": 224, "data.img_width": 224,
    "train.optimizer.schedule": "constant",
    "xai.max_galaxies": None,
    "sfnet.k_list": [2, 3, 4, 6, 8], "sfnet.compare_targets": ["metallicity", "lines"], "sfnet.init": "scratch",
    "scl.width": 1.0, "scl.bins": 520, "scl.prior_smoothing": None,
    "scl.batch_size": {"photometry": 32, "image": 32},
    "scl.datasets": ["Mopt", "MoptMir", "Iopt", "IoptMir", "IoptMirZspec"],
    "mi.width": 1.0, "mi.bins": 520, "mi.prior_smoothing": None,
    "mi.batch_size": {"photometry": 128, "image": 128},
}
# One or two steps each on a few dozen galaxies (after tests/test_pipeline.py's TINY universe).
FEW_STEPS = {
    "simulate.n_galaxies": 200,  # the full-scale batches (SCL 32 pairs = 64 galaxies, MI 128) need >= 128 training galaxies
    "scl.iterations": {"photometry": 2, "image": 2}, "scl.epochs": 1,
    "mi.iterations": {"photometry": 2, "image": 2}, "mi.epochs": 1,
}


def _known(params, dotted):
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def smoke_params(params: dict) -> dict:
    """params.yaml with the TINY universe, then the full-scale shapes, then the few steps."""
    tiny = {k: v for k, v in pipeline.TINY.items() if k != "simulate.gz_size" and _known(params, k)}
    for key, value in {**tiny, **FULL_SHAPES, **FEW_STEPS}.items():
        pipeline._set(params, key, value)
    return params


def main(keep=False) -> float:
    """tests/test_pipeline.py's clone (the working tree copied into a fresh git repo) with the smoke
    params, after `dvc repro`; returns the seconds it took."""
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="galaxy-xai-smoke-"))
    dst = tmp / "galaxy-xai"
    try:
        pipeline.make_clone(dst, smoke_params)
        seconds = time.perf_counter() - start
        print(f"full-scale smoke run passed in {seconds / 60:.1f} min ({dst if keep else 'clone removed'})")
        return seconds
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(keep="--keep" in sys.argv)
