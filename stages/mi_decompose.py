"""Stage mi_decompose@<pair>: per-galaxy redundant, unique and synergistic information two input
sets carry about log M* (SPEC §7), from the estimators of A, B and A+B of a pair "A-B".

Outputs out/mi/decompose/<pair>/components.parquet (per galaxy, nats) and summary.json, copied to
out/metrics/mi_<pair>.json (mean components per split, the estimators' quality).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import mi as mi_config, read_params
from galaxy_xai.studies.mi import decompose_pair

log = runtime.logger("mi_decompose")


def main(pair: str) -> None:
    cfg = mi_config.load(read_params())
    metrics = decompose_pair(pair, cfg, out=layout.mi_decompose(pair))
    layout.write_metrics(f"mi_{pair}", metrics)


if __name__ == "__main__":
    runtime.run(main)
