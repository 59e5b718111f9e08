"""Params group `sfnet`: the Sparse Feature Networks, their dense twin and comparisons (SPEC §4).

The main SFNet's k is `train.k` (the users' name; galaxy_xai.config.train)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Bool, Int, ListOf, Number, Optional, Options, Section, Text, key, load as _load
from galaxy_xai.domain import SFNET_BLOCKS, SFNET_TARGETS
from galaxy_xai.errors import ParamError

POSITIVE = Number(0, lo_open=True)
SHARE = Number(0, 1, lo_open=True)
XGBOOST = {"n_estimators": Int(1), "max_depth": Int(1), "learning_rate": POSITIVE, "subsample": SHARE,
           "colsample_bytree": SHARE, "min_child_weight": Number(0), "reg_lambda": Number(0)}


@dataclass(frozen=True)
class Zoobot:
    epochs: int = key(Int(1), "epochs on the Galaxy Zoo votes (cosine decay to 0)")
    lr: float = key(POSITIVE, "AdamW peak learning rate")
    max_train: int | None = key(Optional(Int(1)), "at most this many Galaxy Zoo training galaxies (null = all)")


@dataclass(frozen=True)
class SfnetConfig:
    seed: int = key(Int(0), "seed of every SFNet run (repeats add 1, 2, ...)")
    crop: int = key(Int(32), "centre crop of the SDSS images the nets see, pixels")
    batch_size: int = key(Int(1), "images per step")
    standardise: bool = key(Bool(), "fit standardised targets; RMSEs are reported in dex")
    jit_compile: bool = key(Bool(), "XLA")
    dense_epochs: int = key(Int(1), "epochs of the dense twin")
    init: str = key(Text(("dense", "scratch")), "dense: warm start from the twin; scratch: as the paper")
    trainable_from: str = key(Text(SFNET_BLOCKS), "init dense: first block fine-tuned")
    epochs: int = key(Int(0), "per SFNet: fine-tuning (init dense) or training (scratch) epochs")
    lr: float = key(POSITIVE, "AdamW peak learning rate (dense twin, scratch SFNets)")
    finetune_lr: float = key(POSITIVE, "peak learning rate when fine-tuning from the twin")
    weight_decay: float = key(Number(0), "AdamW weight decay")
    compare_targets: tuple = key(ListOf(Text(tuple(SFNET_TARGETS)), distinct=True), "sfnet_compare's targets")
    k_list: tuple = key(ListOf(Int(1, 512), distinct=True), "sfnet_compare's k sweep")
    repeats: int = key(Int(1), "retrainings per k")
    top_m: int = key(Int(1), "top features analysed, drawn and given to the AGN SVM")
    n_top_galaxies: int = key(Int(1, 9), "top-activating galaxies shown per feature (3x3 grid)")
    svm_c: float = key(POSITIVE, "linear SVM regularisation C")
    ridge_alpha: float = key(POSITIVE, "ridge alpha, dense features -> SFNet features")
    xgboost: dict = key(Options(XGBOOST), "XGBoost keyword arguments")
    n_bootstrap: int = key(Int(100), "bootstrap draws (over validation galaxies) of every CI of a comparison")
    memorise_alphas: tuple = key(ListOf(POSITIVE, distinct=True),
                                 "ridge alphas the memorisation fit chooses from by leave-one-out CV")
    memorise_min_galaxies_per_parameter: float = key(
        Number(1), "the memorisation fit is valid with at least this many galaxies per fitted parameter")
    dense_tolerance: float = key(Number(0), "an SFNet matches the dense twin if its RMSE CI stays below (1 + this) x the twin's")
    ridge_low_r2: float = key(Number(0, 1), "ridge R² below this (CI upper bound) = the features are largely different")
    pca_explain_components: int = key(Int(1), "leading principal components of the dense features correlated with the truth")
    zoobot: Zoobot = key(Section(Zoobot), "the Zoobot analogue: the SFNet's ResNet18 trained on the Galaxy Zoo votes")

    def check(self, source):
        if self.init == "scratch" and self.epochs == 0:
            raise ParamError(f"{source}: key 'sfnet.epochs' must be positive when sfnet.init is 'scratch', got 0")


def load(params: dict, source: str = PARAMS) -> SfnetConfig:
    return _load(SfnetConfig, params, "sfnet", source)
