"""What every stage does before and after its work: logging, clean-up, and failures as one sentence.

A stage script ends with `runtime.run(main)`: its positional command-line arguments go to
`main`. A project error (`galaxy_xai.errors.GalaxyXAIError`) prints `<stage>: error: <sentence>`
and exits with status 1, without a traceback; `--debug` (or GALAXY_XAI_DEBUG=1) keeps the
traceback. Any other exception keeps its traceback: it is a bug.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from galaxy_xai import io, layout
from galaxy_xai.errors import GalaxyXAIError

DEBUG_FLAG = "--debug"
DEBUG_ENV = "GALAXY_XAI_DEBUG"
# TensorFlow's CUDA probe on a machine without an NVIDIA driver logs this at error level though
# nothing failed; it is dropped only when TensorFlow then reports no GPU.
CUDA_PROBE_NOISE = ("failed call to cuInit",)


def logger(name: str) -> logging.Logger:
    return logging.getLogger(f"galaxy_xai.{name}")


def configure_logging(level=logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")


def run(main) -> None:
    """Run a stage's `main(*args)` as a command: logging on, temporary folders of killed runs
    removed, TensorFlow's start quiet, project errors as one sentence, and one closing line that
    says how long the stage took."""
    configure_logging()
    argv = list(sys.argv)
    stage = Path(argv[0]).stem
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV) == "1"
    args = [a for a in argv[1:] if a != DEBUG_FLAG]
    name = " ".join([stage, *args])
    log = logger("stage")
    for tmp in io.sweep_stale_temps(layout.OUT):
        log.info("%s: removed %s, left by an interrupted run", name, tmp)
    start_tensorflow_quietly()
    start = time.perf_counter()
    try:
        main(*args)
    except GalaxyXAIError as err:
        if debug:
            raise
        print(f"{stage}: error: {err}", file=sys.stderr)
        sys.exit(1)
    log.info("%s: done in %.1f s", name, time.perf_counter() - start)


def start_tensorflow_quietly() -> None:
    """Create TensorFlow's runtime context (if the stage imported TensorFlow) with stderr captured,
    then pass every captured line on except the CUDA probe's on a machine without a GPU."""
    if "tensorflow" not in sys.modules:
        return
    import tempfile

    import tensorflow as tf

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            gpus = tf.config.list_logical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().decode(errors="replace").splitlines(keepends=True)
    keep = [l for l in lines if gpus or not any(noise in l for noise in CUDA_PROBE_NOISE)]
    sys.stderr.write("".join(keep))
    sys.stderr.flush()
