"""What every stage does before and after its work: logging, and failures as one sentence.

A stage script ends with `runtime.run(main)`: its positional command-line arguments go to
`main`; a project error (`galaxy_xai.errors.GalaxyXAIError`) prints `<stage>: error: <sentence>`
and exits with status 1, without a traceback (any other exception keeps its traceback: a bug).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from galaxy_xai.errors import GalaxyXAIError


def logger(name: str) -> logging.Logger:
    return logging.getLogger(f"galaxy_xai.{name}")


def configure_logging(level=logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")


def run(main) -> None:
    """Run a stage's `main(*argv)` as a command: logging on, project errors as one sentence."""
    configure_logging()
    stage = Path(sys.argv[0]).stem
    try:
        main(*sys.argv[1:])
    except GalaxyXAIError as err:
        print(f"{stage}: error: {err}", file=sys.stderr)
        sys.exit(1)
