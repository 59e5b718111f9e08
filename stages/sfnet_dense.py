"""Stage sfnet_dense@<target>: the SFNet's dense twin (ResNet18 without top-k), trained from random weights.

It is the comparisons' "dense CNN" (SPEC §4) and, with sfnet.init = dense, the warm start of every
SFNet. Writes the model, its 512 features and predictions for every galaxy of the target's sample.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, sfnet as sfnet_config, train as train_config
from galaxy_xai.models.sfnet_training import train_dense

log = runtime.logger("sfnet_dense")


def main(target: str) -> None:
    params = read_params()
    cfg = sfnet_config.load(params)
    metrics = train_dense(target, cfg, layout.prepared("sdss"), out=layout.sfnet_dense(target),
                          train_cfg=train_config.load(params))
    layout.write_metrics(f"sfnet_dense_{target}", metrics)


if __name__ == "__main__":
    runtime.run(main)
