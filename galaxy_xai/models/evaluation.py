"""The morphology models' own scores: the ensemble of several predictors and the visible-bar AUC
(RMSE, Pearson r and AUC themselves live in galaxy_xai.stats)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from galaxy_xai.errors import StaleOutputError
from galaxy_xai.stats import auc


def ensemble_mean(predictions: list[pd.DataFrame], key: str) -> pd.DataFrame:
    """Mean of several models' prediction tables, aligned on the id column `key`."""
    first = predictions[0].set_index(key)
    for other in predictions[1:]:
        if not other.set_index(key).index.equals(first.index):
            raise StaleOutputError(f"prediction tables do not list the same {key}s in the same order")
    mean = sum(p.set_index(key)[first.columns].to_numpy() for p in predictions) / len(predictions)
    return pd.DataFrame(mean, index=first.index, columns=first.columns).reset_index()


def visible_bar_auc(has_bar, bar_seen, scores) -> float | None:
    """ROC AUC of barred vs unbarred galaxies without the bars too edge-on to be seen.

    A bar that is not seen (the truth table's `bar_seen`: its disk too inclined) is foreshortened
    away; no volunteer (and no image model) can see it, so it sits among the unbarred on every
    image-based score. This AUC asks what an image can answer: visible bars against no bar.
    """
    has_bar, bar_seen = np.asarray(has_bar, bool), np.asarray(bar_seen, bool)
    keep = ~has_bar | bar_seen
    return auc(has_bar[keep], np.asarray(scores)[keep])
