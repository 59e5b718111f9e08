"""MI-decomposition figure (SPEC §9): the mean information components of each input pair."""
from __future__ import annotations

import numpy as np

from galaxy_xai.plots.common import plt, save

PARTS = (("redundant", "redundant", "C7"), ("unique1", "unique to input 1", "C0"),
         ("unique2", "unique to input 2", "C1"), ("synergy", "synergy", "C2"))


def stacked_components(means: dict, path, split: str = "test"):
    """One bar per pair: redundant + unique 1 + unique 2 + synergy, stacked (nats).

    means: pair label -> the split's mean components {redundant, unique1, unique2, synergy,
    mi12}. Positive parts stack upwards from 0 and negative ones (synergy can be negative with
    the minimum-redundancy rule) downwards, so the bar's net height is MI(input 1 ∪ input 2),
    marked by a black tick. A pair whose entry lists `inconclusive_because` (failed checks of
    mi_decompose) is hatched, labelled inconclusive and the failed checks are written above it.
    """
    labels = list(means)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2.5, 4))
    up, down = np.zeros(len(labels)), np.zeros(len(labels))
    for key, name, colour in PARTS:
        values = np.array([means[p][key] for p in labels], dtype=float)
        base = np.where(values >= 0, up, down)
        ax.bar(x, values, 0.6, bottom=base, color=colour, label=name)
        up, down = np.where(values >= 0, up + values, up), np.where(values < 0, down + values, down)
    ax.scatter(x, [means[p]["mi12"] for p in labels], marker="_", s=600, color="k", zorder=3,
               label="MI(union)")
    ax.axhline(0, color="k", lw=0.6)
    for i, p in enumerate(labels):  # a failed check (union below an input, estimator at the prior)
        failed = means[p].get("inconclusive_because") or []
        if failed:
            ax.bar(x[i], up[i] - down[i], 0.6, bottom=down[i], fill=False, hatch="//", edgecolor="k", lw=0)
            ax.text(x[i], up[i], "inconclusive:\n" + "\n".join(failed), ha="center", va="bottom", fontsize=6,
                    color="C3")
    ax.set_xticks(x, [p.replace("-", "\nvs ") + ("\n(inconclusive)" if means[p].get("inconclusive_because") else "")
                      for p in labels], fontsize=8)
    ax.set_ylabel(f"mean information about log M* (nats), {split}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save(fig, path)
