"""Params group `trim`: importance of radial Fourier bands and its known-band validation (SPEC §8)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, ListOf, Number, Section, Text, key, load as _load
from galaxy_xai.domain import TRIM_METHODS, VOTE_COLUMNS

# galaxy_xai.xai.trim.VALIDATE_METHODS (kept here too: config modules stay free of heavy imports)
VALIDATE_METHODS = ("cd", "integrated_gradients", "gradient_x_input", "knockout", "deeplift", "shapley")

POSITIVE_INT = Int(1)
METHODS = ListOf(Text(TRIM_METHODS), distinct=True)


@dataclass(frozen=True)
class Validate:
    n_datasets: int = key(POSITIVE_INT, "simulated datasets (paper: 500)")
    n_train: int = key(Int(10), "training inputs per dataset")
    n_features: int = key(Int(4), "i.i.d. N(0, 1) features per input (2 (n_bands − 1): one rfft frequency per band)")
    n_bands: int = key(Int(2), "frequency bands (exact Shapley costs 2^n_bands evaluations per input)")
    methods: tuple = key(ListOf(Text(VALIDATE_METHODS), distinct=True), "methods asked to name the known frequency")
    hidden: int = key(POSITIVE_INT, "width of the two hidden ReLU layers")
    epochs: int = key(POSITIVE_INT, "epochs of each dataset's classifier")
    learning_rate: float = key(Number(0, lo_open=True), "Adam learning rate of each dataset's classifier")
    n_explain: int = key(POSITIVE_INT, "held-out inputs whose mean score names the band")
    steps: int = key(POSITIVE_INT, "integrated-gradients steps")
    aggregate: str = key(Text(("mean_abs", "mean")), "how per-input scores are aggregated")
    batch_size: int = key(POSITIVE_INT, "training batch size")
    seed: int = key(Int(0), "seed")


@dataclass(frozen=True)
class TrimConfig:
    output: str = key(Text(VOTE_COLUMNS, "a vote column such as Class3.1"), "morphology output explained")
    methods: tuple = key(METHODS, "band-importance methods")
    n_bands: int = key(Int(2), "radial Fourier bands")
    n_images: int = key(POSITIVE_INT, "validation images explained per model")
    steps: int = key(POSITIVE_INT, "integrated-gradients quadrature steps (the first tried)")
    ig_tolerance: float = key(Number(0, lo_open=True), "relative IG completeness gap accepted before the steps are tripled")
    max_steps: int = key(POSITIVE_INT, "most IG steps tried while the completeness gap exceeds ig_tolerance")
    cd_tolerance: float = key(Number(0, lo_open=True), "relative CD completeness gap (rel + irrel vs the logit) accepted")
    batch_size: int = key(POSITIVE_INT, "images per model call")
    min_prediction_ratio: float = key(Number(0, 1), "normalised curves keep |f(x)| >= this × mean |f(x)|")
    n_property_bins: int = key(Int(2), "metallicity bins of the by-property curves")
    seed: int = key(Int(0), "seed of the image sample")
    validate: Validate = key(Section(Validate), "the paper's known-band simulation")


def load(params: dict, source: str = PARAMS) -> TrimConfig:
    return _load(TrimConfig, params, "trim", source)
