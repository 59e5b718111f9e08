"""Figure helpers: the headless backend and one style (set where figures are made), atomic PNG writes."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt  # pyplot picks its backend lazily, at the first figure
import seaborn as sns

from galaxy_xai.io import atomic_path


def start() -> None:
    """Before drawing: figures are files (no display on a cluster node), in one style."""
    matplotlib.use("Agg")
    sns.set_theme(style="whitegrid", context="paper")


def save(fig, path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
