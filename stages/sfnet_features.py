"""Stage sfnet_features: what the two SFNets (k = train.k) learned, on the validation galaxies (SPEC §4).

Per target: feature frequencies, top features, their equation and top galaxies, ridge R² from the
dense twin and from the Zoobot analogue (sfnet_zoobot), AGN SVM (lines), truth correlations
(simulated data), the SFNet against its twin, with bootstrap CIs, checks and headlines; see
galaxy_xai.studies.sfnet.
Writes out/sfnet/features/<target>.json and figure_<target>.npz, and the metrics.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, sfnet as sfnet_config
from galaxy_xai.domain import SFNET_TARGETS
from galaxy_xai.io import atomic_path
from galaxy_xai.studies.sfnet import AGN_HOST, TRUTHS, feature_study

log = runtime.logger("sfnet_features")


def main() -> None:
    params = read_params()
    cfg = sfnet_config.load(params)
    truth = layout.read_truth(data_config.load(params).truth, list(dict.fromkeys(["objID", *TRUTHS, *AGN_HOST])))
    out = layout.sfnet_features()
    metrics, checks, headlines = {}, {}, {}
    with atomic_path(out.dir) as tmp:
        tmp.mkdir(parents=True)
        for target in SFNET_TARGETS:
            metrics[target], target_checks, target_headlines = feature_study(
                target, cfg, truth, layout.sfnet_train(target), layout.sfnet_dense(target), out.at(tmp),
                zoobot=layout.sfnet_zoobot())
            checks.update(target_checks)
            headlines.update(target_headlines)
    layout.write_metrics("sfnet_features", {**metrics, "checks": checks, "headlines": headlines})
    log.info("metrics: %s", metrics)


if __name__ == "__main__":
    runtime.run(main)
