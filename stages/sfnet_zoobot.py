"""Stage sfnet_zoobot: the Zoobot analogue, the SFNet's ResNet18 (no top-k) trained on Galaxy Zoo votes (SPEC §4).

The paper's Zoobot experiments compare the SFNet with a CNN trained on morphology votes, not on the
target. Here the same ResNet18 is trained on the simulated universe's Galaxy Zoo vote fractions (at
sfnet.crop px), then applied to the SDSS images of every galaxy of each target's sample. Writes the
model and per target its 512 pooled features (out/sfnet/zoobot), and the metrics (how well it learned
the votes against the constant mean votes: check zoobot_learned_morphology).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, sfnet as sfnet_config, train as train_config
from galaxy_xai.models.sfnet_training import train_zoobot

log = runtime.logger("sfnet_zoobot")


def main() -> None:
    params = read_params()
    metrics = train_zoobot(sfnet_config.load(params), layout.prepared("galaxy_zoo"), layout.prepared("sdss"),
                           out=layout.sfnet_zoobot(), train_cfg=train_config.load(params))
    layout.write_metrics("sfnet_zoobot", metrics)


if __name__ == "__main__":
    runtime.run(main)
