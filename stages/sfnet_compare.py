"""Stage sfnet_compare: SFNets over sfnet.k_list vs the dense CNN's features (SPEC §4).

For each target in sfnet.compare_targets: SFNets retrained sfnet.repeats times per k, and the dense
twin's and the Zoobot analogue's (sfnet_zoobot) features through top-k PCA, linear regression and
XGBoost, the memorisation fit, what the twin's leading PCs encode (simulated data), with bootstrap CIs,
checks and headlines (see galaxy_xai.studies.sfnet).
Writes out/sfnet/compare/runs.json and curves.json (drawn by the figures stage), and the metrics.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, sfnet as sfnet_config
from galaxy_xai.data.images import centre_crop
from galaxy_xai.io import atomic_path, write_json
from galaxy_xai.studies.sfnet import EXPLAIN, compare_target

log = runtime.logger("sfnet_compare")


def main() -> None:
    params = read_params()
    cfg = sfnet_config.load(params)
    truth = layout.read_truth(data_config.load(params).truth, ["objID", *EXPLAIN])
    prepared = layout.prepared("sdss")
    catalog = prepared.read_catalog()
    images = centre_crop(prepared.read_images(), cfg.crop)
    metrics, checks, headlines, runs, curves = {}, {}, {}, [], {}
    for target in cfg.compare_targets:
        metrics[target], target_checks, target_headlines, target_runs, curves[target] = compare_target(
            cfg, target, images, catalog, layout.sfnet_dense(target), truth, zoobot=layout.sfnet_zoobot())
        checks.update(target_checks)
        headlines.update(target_headlines)
        runs += target_runs
    out = layout.sfnet_compare()
    with atomic_path(out.dir) as tmp:
        tmp.mkdir(parents=True)
        write_json(out.at(tmp).runs, runs)
        write_json(out.at(tmp).curves, curves)  # drawn by the figures stage
    layout.write_metrics("sfnet_compare", {**metrics, "checks": checks, "headlines": headlines})


if __name__ == "__main__":
    runtime.run(main)
