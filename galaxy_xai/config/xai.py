"""Params group `xai`: SmoothGrad heatmaps, the bar-length grid and the control CNN (SPEC §3)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Bool, Int, ListOf, Number, Optional, Section, Text, key, load as _load
from galaxy_xai.domain import AVERAGE_BAR_MODES, BACKBONES, BAR_MODES, VOTE_COLUMNS
from galaxy_xai.errors import ParamError


@dataclass(frozen=True)
class BarCell:
    mode: str = key(Text(BAR_MODES), "heatmap mode")
    xinput: bool = key(Bool(), "heatmap multiplied by the grey image")
    corr_threshold: float = key(Number(0, 1, True, True), "pixel-correlation threshold of the bar mask")
    len_threshold: int = key(Int(1), "minimum mask length, pixels")


@dataclass(frozen=True)
class Control:
    epochs: int = key(Int(1), "epochs of the control CNN")
    lr: float = key(Number(0, lo_open=True), "its peak learning rate")
    n_bootstrap: int = key(Int(100), "paired bootstrap draws of r(heatmap) − r(control)")


@dataclass(frozen=True)
class Randomisation:
    n_galaxies: int = key(Int(0), "mapped galaxies the cascading randomisation test recomputes; 0 = skip")
    fractions: tuple = key(ListOf(Number(0, 1, True, False), distinct=True),
                           "shares of the weighted layers re-initialised from the output down, one depth each")
    max_similarity: float = key(Number(-1, 1), "median Spearman r, fully randomised vs trained maps, above which the maps fail")


@dataclass(frozen=True)
class XaiConfig:
    backbones: tuple = key(ListOf(Text(BACKBONES), distinct=True),
                           "the morphology CNNs the bar study maps and measures (heatmaps stages)")
    output: str = key(Text(VOTE_COLUMNS, "a vote column such as Class3.1"), "the output explained (the bar answer)")
    smooth_samples: int = key(Int(1), "noisy copies per SmoothGrad map")
    smooth_noise: float = key(Number(0, lo_open=True), "SmoothGrad noise, fraction of the image range")
    batch_size: int = key(Int(1), "noisy copies per gradient call")
    max_galaxies: int | None = key(Optional(Int(1)), "bar-catalogue galaxies mapped; null = all")
    validation_split: float = key(Number(0, 1, True, True), "share of the bar catalogue for the grid (the rest: test)")
    corr_thresholds: tuple = key(ListOf(Number(0, 1, True, True), distinct=True), "grid: correlation thresholds")
    len_thresholds: tuple = key(ListOf(Int(1), distinct=True), "grid: length thresholds, pixels")
    xinput: tuple = key(ListOf(Bool(), distinct=True), "grid: with / without the image multiplied in")
    select_by: str = key(Text(("per_r90", "arcsec")), "the validation r a cell is chosen by: per R90 (size divided out) or in arcsec")
    n_bootstrap: int = key(Int(100), "bootstrap draws of every test r and of the footprint shares")
    min_measured: float = key(Number(0, 1), "share of validation bars a chosen cell must measure")
    pin: BarCell | None = key(Optional(Section(BarCell)), "a cell to report besides the chosen ones; null = none")
    randomisation: Randomisation = key(Section(Randomisation), "the saliency sanity check (Adebayo et al. 2018)")
    control: Control = key(Section(Control), "the control CNN regressing the bar length")

    @property
    def bar_modes(self) -> tuple:
        """Each mapped backbone, then the two averages when there is more than one map to average."""
        return self.backbones + (AVERAGE_BAR_MODES if len(self.backbones) > 1 else ())

    def check(self, source):
        if self.pin is not None and self.pin.mode not in self.bar_modes:
            raise ParamError(f"{source}: key 'xai.pin.mode' must be one of the modes of xai.backbones "
                             f"{list(self.bar_modes)}, got {self.pin.mode!r}")


def load(params: dict, source: str = PARAMS) -> XaiConfig:
    return _load(XaiConfig, params, "xai", source)
