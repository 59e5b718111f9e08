"""Params group `mi`: the MI estimators and the redundant / unique / synergistic split (SPEC §7)."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Int, ListOf, Number, Text, key, load as _load
from galaxy_xai.config.estimator import EstimatorConfig
from galaxy_xai.errors import ParamError


def pair_datasets(pair: str) -> tuple[str, str, str]:
    """('A', 'B', 'A+B') of a pair written 'A-B'."""
    a, _, b = pair.partition("-")
    return a, b, f"{a}+{b}"


@dataclass(frozen=True)
class MiConfig(EstimatorConfig):
    pairs: tuple = key(ListOf(Text(), distinct=True), "pairs 'A-B': each uses the estimators of A, B and A+B")
    datasets: tuple = key(ListOf(Text(), distinct=True), "input sets, one estimator each")
    union_max_epochs: int = key(Int(0), "union estimators (A+B) train up to this many epochs of iterations/epochs "
                                        "steps, until validation cross-entropy stops falling; 0 = mi.epochs, as the inputs")
    union_patience: int = key(Int(1), "epochs without a lower validation cross-entropy before a union estimator stops")
    union_tolerance: float = key(Number(0), "nats a union's mean test MI may fall below an input's before the "
                                           "decomposition is inconclusive")
    group = "mi"

    def check(self, source):
        super().check(source)
        if self.union_max_epochs and self.union_max_epochs < self.epochs:
            raise ParamError(f"{source}: key 'mi.union_max_epochs' must be 0 or at least mi.epochs ({self.epochs}), "
                             f"got {self.union_max_epochs}")
        for pair in self.pairs:
            if pair.count("-") != 1 or not all(pair.split("-")):
                raise ParamError(f"{source}: key 'mi.pairs' must list pairs written 'A-B' (such as Mopt-Ioptnorm), "
                                 f"got {pair!r}")
            lacking = [d for d in pair_datasets(pair) if d not in self.datasets]
            if lacking:
                raise ParamError(f"{source}: key 'mi.datasets' must list every input set the pairs use: "
                                 f"{pair} needs {', '.join(lacking)}")


def load(params: dict, source: str = PARAMS) -> MiConfig:
    return _load(MiConfig, params, "mi", source)
