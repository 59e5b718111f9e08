"""Stellar-mass figures (SPEC §9): SCL estimates against the catalogue mass, and the local
correlations of the independence tests against their permuted null."""
from __future__ import annotations

import numpy as np

from galaxy_xai.plots.common import plt, save


def estimates_vs_truth(tables: dict, scores: dict, path, estimate: str = "est_mean", split: str = "test",
                       mass_label: str = "catalogue log M*"):
    """One panel per input set: estimate against the target for the galaxies of `split`.

    tables: name -> per-galaxy frame with `split`, `target` and `estimate` columns;
    scores: name -> {"sigma_mad", "bias", "eta"} of that split, written in the panel; with
    "converged": false (scl's convergence check failed) the panel says the numbers are no result.
    """
    fig, axes = plt.subplots(1, len(tables), figsize=(3.6 * len(tables), 3.7), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (name, table) in zip(axes[0], tables.items()):
        rows = table[(table["split"] == split) & np.isfinite(table["target"])]
        ax.scatter(rows["target"], rows[estimate], s=6, alpha=0.5, linewidths=0)
        low, high = np.percentile(rows["target"], [0.5, 99.5]) if len(rows) else (6.0, 12.5)
        pad = 0.1 * (high - low) + 0.05
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="k", lw=0.8, ls="--")
        ax.set(xlim=(low - pad, high + pad), ylim=(low - pad, high + pad), title=name, xlabel=mass_label)
        s = scores.get(name, {})
        if s:
            at_prior = s.get("converged") is False  # the estimator did not beat the training prior
            ax.text(0.04, 0.96, ("NOT CONVERGED (at the prior):\nno result\n" if at_prior else "")
                    + f"σ_MAD {s['sigma_mad']:.3f}\nbias {s['bias']:+.3f}\nη {s['eta']:.3f}\nn {len(rows)}",
                    transform=ax.transAxes, va="top", fontsize=8, color="C3" if at_prior else "k")
    axes[0, 0].set_ylabel(f"SCL estimate ({estimate.removeprefix('est_')}), {split}")
    return save(fig, path)


def corr_vs_null(tables: dict, path, query: str, condition: str, split: str = "test", bins: int = 30):
    """Distribution of the local corr(y, x) and of its permuted null, without and with the condition.

    tables: name -> per-galaxy frame with `split` and corr, corr_permuted, corr_cond,
    corr_cond_permuted. A corr distribution wider than or shifted from its null means y and x
    are locally dependent among look-alike galaxies.
    """
    columns = (("corr", f"corr(y, {query})"), ("corr_cond", f"corr(y, {query} | {condition})"))
    fig, axes = plt.subplots(len(tables), 2, figsize=(8, 2.6 * len(tables)), squeeze=False, sharex=True)
    edges = np.linspace(-1, 1, bins + 1)
    for row, (name, table) in zip(axes, tables.items()):
        rows = table[table["split"] == split]
        for ax, (column, label) in zip(row, columns):
            for values, kind, colour in ((rows[column], "local", "C0"), (rows[f"{column}_permuted"], "permuted null", "C7")):
                values = values[np.isfinite(values)]
                ax.hist(values, bins=edges, density=True, histtype="stepfilled" if kind == "local" else "step",
                        alpha=0.6 if kind == "local" else 1.0, color=colour, lw=1.2,
                        label=f"{kind} (mean {values.mean():+.3f})" if len(values) else kind)
            ax.axvline(0, color="k", lw=0.6)
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel(f"local Pearson correlation over the neighbours ({split} galaxies)")
    return save(fig, path)
