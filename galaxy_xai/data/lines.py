"""Emission-line diagnostics shared by the simulator and the SFNet analysis."""
from __future__ import annotations

import numpy as np


def kauffmann_agn(log_n2_ha, log_o3_hb) -> np.ndarray:
    """True where a galaxy lies above the Kauffmann et al. (2003) line or right of its asymptote.

    Line: log([OIII]/Hb) = 0.61 / (log([NII]/Ha) - 0.05) + 1.3, defined for log([NII]/Ha) < 0.05.
    """
    x = np.asarray(log_n2_ha, dtype=float)
    y = np.asarray(log_o3_hb, dtype=float)
    left = x < 0.05
    with np.errstate(divide="ignore", invalid="ignore"):
        line = 0.61 / (x - 0.05) + 1.3
    return np.where(left, y > line, True)
