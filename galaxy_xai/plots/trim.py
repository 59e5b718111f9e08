"""Figures of the TRIM study: band curves per image with their mean (paper Fig. 3), curves by a
property (paper Fig. 4), and the known-band validation against the paper's Table 1."""
from __future__ import annotations

import numpy as np

from galaxy_xai.plots.common import plt, save

LABELS = {"cd": "CD (logit part / logit)", "deeplift": "DeepLift (rescale)", "shapley": "Shapley (exact, bands)", "integrated_gradients": "IG (band removed)", "integrated_gradients_zero": "IG (zero baseline)",
          "knockout": "knockout", "gradient_x_input": "gradient × input"}
PAPER_LABELS = {"contextual_decomposition": "CD", "deeplift": "DeepLift", "shap": "SHAP",
                "integrated_gradients": "IG"}


def band_centres(edges) -> np.ndarray:
    edges = np.asarray(edges, float)
    return 0.5 * (edges[:-1] + edges[1:])


def _freq_axis(ax, edges, ylabel):
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set(xlabel="radial frequency (cycles / pixel)", ylabel=ylabel, xlim=(edges[0], edges[-1]))


def band_curves(study: dict, path):
    """Fig. 3 style for one model: the first explained image and its band components on top;
    below, one panel per method with each image's normalised curve (blue) and their mean (red).

    study: curves (curves.json), normalised ({method: [n, n_bands]}), bands ([n_bands, H, W, C]).
    """
    curves, bands = study["curves"], np.asarray(study["bands"], np.float32)
    methods = list(curves["methods"])
    edges, n_bands = curves["band_edges"], len(curves["band_edges"]) - 1
    fig = plt.figure(figsize=(max(3.6 * len(methods), 1.3 * (n_bands + 1)), 5.6))
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 2.4], hspace=0.35)
    top = grid[0].subgridspec(1, n_bands + 1, wspace=0.05)
    parts = bands.mean(axis=-1)  # channel mean: one grey map per band
    images = [parts.sum(axis=0), *parts]
    for k, img in enumerate(images):
        ax = fig.add_subplot(top[k])
        lim = np.abs(img).max() or 1.0
        ax.imshow(img, cmap="gray" if k == 0 else "RdBu_r", vmin=-lim if k else None, vmax=lim if k else None)
        ax.set_title("image" if k == 0 else f"band {k - 1}", fontsize=7)
        ax.axis("off")
    bottom = grid[1].subgridspec(1, len(methods), wspace=0.3)
    x = band_centres(edges)
    for j, method in enumerate(methods):
        ax = fig.add_subplot(bottom[j])
        rows = np.asarray(study["normalised"][method], float)
        rows = rows[np.all(np.isfinite(rows), axis=1)]
        ax.plot(x, rows.T, color="tab:blue", lw=0.5, alpha=0.35)
        ax.plot(x, curves["methods"][method]["mean"], "o-", color="tab:red", lw=2, ms=3, label=f"mean of {len(rows)}")
        _freq_axis(ax, edges, "importance / f(x)" if j == 0 else "")
        ax.set_title(LABELS.get(method, method))
        ax.legend(fontsize=7)
    fig.suptitle(f"TRIM band importance: {curves['name']} (output {curves['output_index']})")
    return save(fig, path)


def curves_by_property(studies: dict, path):
    """Fig. 4 style: rows = models, columns = methods; each group's images (thin) and mean (thick).

    studies: {name: study} as for band_curves, plus sample (DataFrame with a 'group' column).
    """
    names = list(studies)
    methods = list(next(iter(studies.values()))["curves"]["methods"])
    fig, axes = plt.subplots(len(names), len(methods), figsize=(3.8 * len(methods), 3.0 * len(names)), squeeze=False,
                             layout="constrained")
    for i, name in enumerate(names):
        study = studies[name]
        curves, groups = study["curves"], study["sample"]["group"].to_numpy(object)
        x = band_centres(curves["band_edges"])
        for j, method in enumerate(methods):
            ax = axes[i, j]
            by_group = curves["methods"][method]["groups"]
            rows = np.asarray(study["normalised"][method], float)
            colours = plt.cm.viridis(np.linspace(0.1, 0.85, max(len(by_group), 1)))
            for colour, (group, g) in zip(colours, sorted(by_group.items())):
                mine = rows[(groups == group) & np.all(np.isfinite(rows), axis=1)]
                ax.plot(x, mine.T, color=colour, lw=0.4, alpha=0.25)
                ax.plot(x, g["mean"], "o-", color=colour, lw=2, ms=3, label=f"{group} (n = {g['n']})")
            if not by_group:
                ax.text(0.5, 0.5, "no property split\n(no truth table)", transform=ax.transAxes, ha="center", fontsize=8)
            _freq_axis(ax, curves["band_edges"], f"{name}\nimportance / f(x)" if j == 0 else "")
            ax.set_title(f"{name}: {LABELS.get(method, method)}", fontsize=8)
            if by_group:
                ax.legend(fontsize=6, title=curves["property"], title_fontsize=6)
    fig.suptitle("TRIM band importance by property")
    return save(fig, path)


def validation(metrics: dict, datasets: list, path):
    """Left: error (%) per method with its one-sided 95 % upper bound, beside the paper's Table 1
    (500 datasets). Right: the first dataset's mean |score| curves, the true band marked."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    ours = metrics["methods"]
    n = next(iter(ours.values()))["n_datasets"]
    labels = [f"{LABELS.get(m, m)} ({v['errors']}/{v['n_datasets']})" for m, v in ours.items()] + [f"paper: {PAPER_LABELS.get(m, m)}" for m in metrics["paper_error_percent_500_datasets"]]
    rates = [v["error_percent"] for v in ours.values()] + list(metrics["paper_error_percent_500_datasets"].values())
    colours = ["tab:blue"] * len(ours) + ["0.6"] * (len(labels) - len(ours))
    pos = np.arange(len(labels))
    left.bar(pos, rates, color=colours)
    upper = [v["upper95_percent"] for v in ours.values()]
    left.errorbar(pos[:len(ours)], rates[:len(ours)], yerr=[np.zeros(len(ours)), np.subtract(upper, rates[:len(ours)])],
                  fmt="none", ecolor="k", capsize=4, label="one-sided 95 % upper bound")
    left.set_xticks(pos, labels, rotation=30, ha="right", fontsize=7)
    left.set(ylabel="error (%): true band not ranked first", title=f"known-band simulation: {n} datasets (paper: 500)")
    left.legend(fontsize=7)
    d = datasets[0]
    for method, curve in d["curve_mean_abs"].items():
        curve = np.asarray(curve)
        right.plot(np.arange(len(curve)), curve / (curve.max() or 1.0), "o-", ms=3, label=LABELS.get(method, method))
    right.axvline(d["target_band"], color="k", ls="--", lw=1, label="true band")
    right.set(xlabel="band", ylabel="mean |score| (max = 1)", title=f"dataset 0 (held-out accuracy {d['accuracy']:.2f})")
    right.legend(fontsize=7)
    return save(fig, path)
