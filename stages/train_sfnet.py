"""Stage train_sfnet@<target>: the Sparse Feature Network with k = train.k active features (SPEC §4).

With sfnet.init = dense it starts from the dense twin of stage sfnet_dense (a compute-saving
deviation from the paper, see galaxy_xai/models/sfnet_training.py). Writes the model, its
features and predictions for every galaxy of the target's sample, and the validation RMSE in dex.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, sfnet as sfnet_config, train as train_config
from galaxy_xai.models.sfnet_training import train_main

log = runtime.logger("train_sfnet")


def main(target: str) -> None:
    params = read_params()
    cfg, train = sfnet_config.load(params), train_config.load(params)
    metrics = train_main(target, cfg, train.k, layout.prepared("sdss"), dense=layout.sfnet_dense(target),
                         out=layout.sfnet_train(target), train_cfg=train)
    layout.write_metrics(f"train_sfnet_{target}", metrics)


if __name__ == "__main__":
    runtime.run(main)
