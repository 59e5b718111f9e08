"""Stage trim@<name>: which radial Fourier bands a trained model relies on (SPEC §8, TRIM).

Usage: trim.py <name>, a morphology backbone (its bar vote on Galaxy Zoo) or sfnet_metallicity
(its 12 + log(O/H) on SDSS); galaxy_xai.studies.trim.band_study says how.
Outputs: out/trim/<name>/ (sample.parquet, scores.npz, curves.json, bands_example.npy) and the
summary metrics out/metrics/trim_<name>.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, trim as trim_config
from galaxy_xai.io import atomic_path
from galaxy_xai.studies import trim as study

log = runtime.logger("trim")


def main(name: str) -> None:
    params = read_params()
    cfg, truth = trim_config.load(params), data_config.load(params).truth
    model, family = study.subject(name)
    result = study.band_study(name, model, family, cfg, truth)
    out = layout.trim(name)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        study.write_band_study(result, out.at(tmp))
    layout.write_metrics(f"trim_{name}", result.metrics)
    log.info("%s: peak bands %s", name, {m: v["peak_band"] for m, v in result.metrics["methods"].items()})


if __name__ == "__main__":
    runtime.run(main)
