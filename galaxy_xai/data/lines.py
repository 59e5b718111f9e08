"""Emission-line diagnostics shared by the simulator, the SFNet analysis and its figures.

The one definition of the Kauffmann et al. (2003) star-forming / AGN line on the BPT diagram.
"""
from __future__ import annotations

import numpy as np

KAUFFMANN_X_MAX = 0.05  # the line's asymptote in log([NII]/Hα)


def kauffmann_line(log_n2_ha) -> np.ndarray:
    """log([OIII]/Hβ) of the Kauffmann line: 0.61 / (log([NII]/Hα) - 0.05) + 1.3, for x < 0.05."""
    return 0.61 / (np.asarray(log_n2_ha, dtype=float) - KAUFFMANN_X_MAX) + 1.3


def kauffmann_agn(log_n2_ha, log_o3_hb) -> np.ndarray:
    """True where a galaxy lies above the Kauffmann line or right of its asymptote."""
    x = np.asarray(log_n2_ha, dtype=float)
    y = np.asarray(log_o3_hb, dtype=float)
    left = x < KAUFFMANN_X_MAX
    with np.errstate(divide="ignore", invalid="ignore"):
        line = kauffmann_line(x)
    return np.where(left, y > line, True)


def bpt_ratios(log_n2, log_ha, log_o3, log_hb) -> tuple[np.ndarray, np.ndarray]:
    """BPT coordinates log([NII]/Hα) and log([OIII]/Hβ) from log10 line fluxes."""
    return np.asarray(log_n2, float) - np.asarray(log_ha, float), np.asarray(log_o3, float) - np.asarray(log_hb, float)


def agn_labels(log_n2, log_ha, log_o3, log_hb) -> np.ndarray:
    """Kauffmann AGN flag from the four log line fluxes."""
    return kauffmann_agn(*bpt_ratios(log_n2, log_ha, log_o3, log_hb))
