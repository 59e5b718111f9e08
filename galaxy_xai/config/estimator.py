"""The keys the `scl` and `mi` groups share: how a log M* estimator is binned and trained (SPEC §5, §7)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import Bool, Int, MapOf, Number, Optional, Text, key
from galaxy_xai.domain import INPUT_KINDS
from galaxy_xai.errors import ParamError

PER_KIND = MapOf(INPUT_KINDS, Int(1))


@dataclass(frozen=True)
class EstimatorConfig:
    target: str = key(Text(), "catalogue column estimated (log M*)")
    bins: int = key(Int(2), "bins of the target on [y_min, y_max]")
    y_min: float = key(Number(), "lower edge of the bins")
    y_max: float = key(Number(), "upper edge of the bins")
    m: int | None = key(Optional(Int(1)), "main latent size; null = the study's")
    width: float = key(Number(0, lo_open=True), "filter-count multiplier of the image network (1.0 = published)")
    iterations: dict = key(PER_KIND, "training steps per input kind")
    batch_size: dict = key(PER_KIND, "galaxies per mini-batch per input kind")
    lr: float = key(Number(0, lo_open=True), "Adam learning rate")
    lr_drop_fraction: float = key(Number(0, 1, lo_open=True), "share of the steps before the rate drops")
    lr_drop_factor: float = key(Number(1), "the rate is divided by this")
    epochs: int = key(Int(1), "validation passes during training; must divide the iterations")
    prior_smoothing: float | None = key(Optional(Number(0)), "start at the smoothed training prior (dex); null = random")
    keep_best: bool = key(Bool(), "restore the epoch of lowest validation cross-entropy")
    p_lo: float = key(Number(0, 100, hi_open=True), "Ioptnorm: lower petroFlux clip percentile")
    p_hi: float = key(Number(0, 100, lo_open=True), "Ioptnorm: upper petroFlux clip percentile")
    infer_batch_size: int = key(Int(1), "galaxies per inference call")
    n_bootstrap: int = key(Int(1), "bootstrap draws of the CIs of the checks and headlines")
    seed: int = key(Int(0), "seed")

    def check(self, source):
        group = self.group
        if self.y_max <= self.y_min:
            raise ParamError(f"{source}: key '{group}.y_max' must exceed {group}.y_min ({self.y_min}), got {self.y_max}")
        if self.p_hi <= self.p_lo:
            raise ParamError(f"{source}: key '{group}.p_hi' must exceed {group}.p_lo ({self.p_lo}), got {self.p_hi}")
        for kind, n in self.iterations.items():
            if n % self.epochs:
                raise ParamError(f"{source}: key '{group}.epochs' ({self.epochs}) must divide "
                                 f"{group}.iterations.{kind} ({n})")
