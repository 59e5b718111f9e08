"""Figures of the saliency study: learning curves, bar heatmaps with the measured bar, length scatter."""
from __future__ import annotations

import numpy as np
import pandas as pd

from galaxy_xai.plots.common import plt, save
from galaxy_xai.xai.bar_length import bar_mask


def learning_curves(logs: dict, path):
    """Train and validation RMSE per epoch, one panel per model (logs: name -> Keras CSV log)."""
    fig, axes = plt.subplots(1, len(logs), figsize=(4 * len(logs), 3.2), sharey=True, squeeze=False)
    for ax, (name, log) in zip(axes[0], logs.items()):
        ax.plot(log["epoch"] + 1, log["rmse"], "o-", label="train")
        ax.plot(log["epoch"] + 1, log["val_rmse"], "s--", label="validation")
        ax.set(title=name, xlabel="epoch", ylabel="RMSE")
        ax.legend()
    return save(fig, path)


def mask_endpoints(mask: np.ndarray):
    """The two mask pixels farthest apart (row, col), to draw the measured bar."""
    pts = np.argwhere(mask)
    if len(pts) < 2:
        return None
    d = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    return pts[i], pts[j]


def bar_overlays(images, heatmaps, corr_threshold, len_threshold, titles, path, ncols=4):
    """Galaxy, its heatmap, and the measured bar (the longest chord of the mask) drawn on the galaxy."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(2 * nrows, ncols, figsize=(2.4 * ncols, 4.8 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k in range(n):
        r, c = 2 * (k // ncols), k % ncols
        axes[r, c].imshow(images[k])
        axes[r, c].set_title(titles[k], fontsize=7)
        axes[r + 1, c].imshow(heatmaps[k], cmap="inferno", vmin=0, vmax=1)
        ends = mask_endpoints(bar_mask(heatmaps[k].astype(np.float64), corr_threshold, len_threshold))
        if ends is not None:
            scale = images[k].shape[0] / heatmaps[k].shape[0]
            (r0, c0), (r1, c1) = ends
            for ax in (axes[r, c], axes[r + 1, c]):
                s = scale if ax is axes[r, c] else 1.0
                ax.plot([c0 * s, c1 * s], [r0 * s, r1 * s], "c-", lw=2)
    return save(fig, path)


def _scatter_with_fit(ax, x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    ax.scatter(x, y, s=10, alpha=0.7)
    if len(x) >= 2 and np.std(x) > 0:
        a, b = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 10)
        ax.plot(xs, a * xs + b, "r-", label=f"fit, r = {np.corrcoef(x, y)[0, 1]:.2f}")
        ax.legend()


def length_scatter(table: pd.DataFrame, path, title=""):
    """Measured vs catalogue (and vs true) bar length with fitted lines; with PETROR90_R, also per R90
    (galaxy size divided out), the panel that shows whether the bar itself was measured."""
    refs = [c for c in ("hoyle", "true") if c in table and table[c].notna().any()]
    per_r90 = "PETROR90_R" in table and bool(refs)
    fig, axes = plt.subplots(1, len(refs) + per_r90, figsize=(4 * (len(refs) + per_r90), 3.6), squeeze=False)
    measured = table["measured"].to_numpy(float)
    for ax, ref in zip(axes[0], refs):
        _scatter_with_fit(ax, measured, table[ref].to_numpy(float))
        ax.set(xlabel="measured (px × R90)", ylabel=f"{'catalogue' if ref == 'hoyle' else 'true'} length (arcsec)", title=title)
    if per_r90:
        r90 = table["PETROR90_R"].to_numpy(float)
        ref = refs[-1]
        _scatter_with_fit(axes[0, -1], measured / r90, table[ref].to_numpy(float) / r90)
        axes[0, -1].set(xlabel="measured / R90 (px)", ylabel=f"{'catalogue' if ref == 'hoyle' else 'true'} length / R90",
                        title="size divided out")
    return save(fig, path)


def class_heatmaps(images, maps_by_class: dict, path):
    """Sample galaxies (rows) and their SmoothGrad maps for several vote classes (columns)."""
    classes = list(maps_by_class)
    n = len(images)
    fig, axes = plt.subplots(n, 1 + len(classes), figsize=(2.0 * (1 + len(classes)), 2.0 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i])
        for j, c in enumerate(classes):
            axes[i, j + 1].imshow(maps_by_class[c][i], cmap="inferno", vmin=0, vmax=1)
            if i == 0:
                axes[i, j + 1].set_title(c, fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    return save(fig, path)
