"""Figure helpers: a headless backend, one style, atomic PNG writes."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from galaxy_xai.io import atomic_path  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")


def save(fig, path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
