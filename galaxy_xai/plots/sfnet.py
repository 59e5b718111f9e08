"""SFNet figures (SPEC §9): BPT diagrams coloured by a feature, the equations, SFNet vs PCA over k."""
from __future__ import annotations

import numpy as np

from galaxy_xai.data.lines import kauffmann_line
from galaxy_xai.plots.common import plt, save

TARGET_LABEL = {"oh_p50": "12+log(O/H)", "log_N2": "log F[NII]", "log_Ha": "log F(Hα)",
                "log_O3": "log F[OIII]", "log_Hb": "log F(Hβ)"}
TITLE = {"metallicity": "metallicity", "lines": "emission lines"}


def _kauffmann_curve(ax):
    x = np.linspace(-2.0, 0.0, 200)
    ax.plot(x, kauffmann_line(x), color="0.4", lw=1, ls="--", label="Kauffmann+03")


def _thumbnail(ax, image, title=None):
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=8)


def bpt_feature(path, name, bpt_x, bpt_y, activation, frequency, top_images):
    """BPT diagram coloured by one feature's scaled activation, beside its top-activating galaxies.

    As in the paper: black where the feature is off, magma from dark (weak) to yellow (strong);
    the strongest galaxies are drawn last, i.e. on top.
    """
    fig = plt.figure(figsize=(9, 4.2))
    left, right = fig.subfigures(1, 2, width_ratios=[1.25, 1])
    ax = left.subplots()
    order = np.argsort(activation, kind="stable")
    points = ax.scatter(bpt_x[order], bpt_y[order], c=activation[order], cmap="magma", vmin=0, vmax=1,
                        s=9, edgecolors="none")
    _kauffmann_curve(ax)
    ax.set_xlim(*(np.nanpercentile(bpt_x, [0.5, 99.5]) + [-0.1, 0.1]))
    ax.set_ylim(*(np.nanpercentile(bpt_y, [0.5, 99.5]) + [-0.1, 0.1]))
    ax.set_facecolor("0.85")  # black "off" points must stand out from the background
    ax.set_xlabel("log([NII]/Hα)")
    ax.set_ylabel("log([OIII]/Hβ)")
    ax.set_title(f"{name}: active in {100 * frequency:.1f}% of validation galaxies", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    left.colorbar(points, ax=ax, label=f"A({name})", pad=0.01)
    cells = right.subplots(3, 3, gridspec_kw={"wspace": 0.04, "hspace": 0.04})
    for i, cell in enumerate(cells.flat):
        if i < len(top_images):
            _thumbnail(cell, top_images[i])
        else:
            cell.axis("off")
    right.suptitle(f"top {len(top_images)} galaxies of {name}", fontsize=9)
    return save(fig, path)


def _equation_text(output, intercept, coefs, names) -> str:
    terms = "".join(f" {'-' if c < 0 else '+'} {abs(c):.3f}·A({n})" for c, n in zip(coefs, names))
    return f"{TARGET_LABEL.get(output, output)} = {intercept:.3f}{terms}"


def equations(path, blocks):
    """Per SFNet: its top features' strongest galaxies, then one linear equation per output.

    `blocks`: dicts with names (feature names), images (one per feature, or None), and
    equations: a list of (output column, intercept, coefs aligned with names).
    """
    width = max(1, max(len(b["names"]) for b in blocks))
    heights = [h for b in blocks for h in (1.0, 0.25 * len(b["equations"]))]
    fig = plt.figure(figsize=(max(6.5, 1.3 * width), sum(heights) + 0.4))
    grid = fig.add_gridspec(len(heights), width, height_ratios=heights, hspace=0.3, wspace=0.05)
    for i, block in enumerate(blocks):
        for j in range(width):
            cell = fig.add_subplot(grid[2 * i, j])
            if j < len(block["names"]) and block["images"][j] is not None:
                _thumbnail(cell, block["images"][j], block["names"][j])
            else:
                cell.axis("off")
        text = fig.add_subplot(grid[2 * i + 1, :])
        text.axis("off")
        lines = [_equation_text(*eq, block["names"]) for eq in block["equations"]]
        text.text(0, 1, "\n".join(lines), fontsize=8, va="top", ha="left", family="monospace")
    fig.suptitle("SFNet equations (A = activation scaled to [0, 1]; images: each feature's strongest galaxy)",
                 fontsize=9)
    return save(fig, path)


def rmse_vs_k(path, tables):
    """Validation RMSE over k: SFNet (mean ± standard error over repeats) vs dense CNN + top-k PCA.

    `tables`: {target: {"k": [...], "sfnet_mean": [...], "sfnet_sem": [...], "pca": [...], "dense": float}},
    optionally "zoobot_pca": [...] (PCA of the Zoobot analogue's features).
    """
    fig, axes = plt.subplots(1, len(tables), figsize=(4.5 * len(tables), 3.6), squeeze=False)
    for ax, (target, t) in zip(axes[0], tables.items()):
        ax.errorbar(t["k"], t["sfnet_mean"], yerr=t["sfnet_sem"], marker="o", capsize=3, label="SFNet")
        pca = np.array([np.nan if v is None else v for v in t["pca"]], float)
        ax.plot(t["k"], pca, marker="s", color="tab:red", label="dense twin + PCA top k")
        if "zoobot_pca" in t:  # the Zoobot analogue (ResNet18 trained on Galaxy Zoo votes), as the paper's Zoobot
            zoo = np.array([np.nan if v is None else v for v in t["zoobot_pca"]], float)
            ax.plot(t["k"], zoo, marker="^", color="tab:green", label="Zoobot analogue + PCA top k")
        ax.axhline(t["dense"], color="0.4", ls="--", lw=1, label="dense CNN (all 512)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(t["k"], [str(k) for k in t["k"]])
        ax.set_xlabel("k (active features / principal components)")
        ax.set_ylabel("validation RMSE (dex)")
        ax.set_title(TITLE.get(target, target))
        ax.legend(fontsize=7)
    return save(fig, path)
