"""Params groups `sfnet` and `train.k`: each bad value fails with one sentence naming the key."""
import copy
import re
from pathlib import Path

import pytest

from galaxy_xai.config import read_params, sfnet as sfnet_config, train as train_config
from galaxy_xai.errors import ParamError

PARAMS = read_params(Path(__file__).resolve().parents[1] / "params.yaml")
LOAD = {"sfnet": sfnet_config.load, "train": train_config.load}

# (group, dotted key, bad value, expected fragment of the error sentence)
CASES = [
    ("sfnet", "sfnet.crop", "48", "'sfnet.crop' must be an integer"),
    ("sfnet", "sfnet.crop", 16, "'sfnet.crop' must be an integer >= 32"),
    ("sfnet", "sfnet.epocs", 1, "unknown key 'sfnet.epocs'"),
    ("sfnet", "sfnet.standardise", "yes", "'sfnet.standardise' must be true or false"),
    ("sfnet", "sfnet.trainable_from", "stage9", "'sfnet.trainable_from' must be one of"),
    ("sfnet", "sfnet.compare_targets", ["metallicity", "oxygen"], "'sfnet.compare_targets'"),
    ("sfnet", "sfnet.k_list", [0, 4], "'sfnet.k_list'"),
    ("sfnet", "sfnet.n_top_galaxies", 10, "'sfnet.n_top_galaxies' must be an integer in [1, 9]"),
    ("sfnet", "sfnet.lr", 0, "'sfnet.lr' must be a number > 0"),
    ("sfnet", "sfnet.xgboost", {"n_estimator": 5}, "'sfnet.xgboost'"),
    ("sfnet", "sfnet.epochs", -1, "'sfnet.epochs' must be an integer >= 0"),
    ("train", "train.k", 4.5, "'train.k' must be an integer in [1, 512]"),
    ("train", "train.k", 513, "'train.k' must be an integer in [1, 512]"),
    ("train", "train.kk", 4, "unknown key 'train.kk'"),
]


def _with(params, dotted, value):
    params = copy.deepcopy(params)
    *path, last = dotted.split(".")
    node = params
    for part in path:
        node = node[part]
    node[last] = value
    return params


@pytest.mark.parametrize("group, dotted, value, message", CASES, ids=lambda v: str(v))
def test_a_bad_value_is_refused_naming_the_key(group, dotted, value, message):
    with pytest.raises(ParamError, match=re.escape(message)):
        LOAD[group](_with(PARAMS, dotted, value))


def test_the_params_file_loads_and_scratch_needs_epochs():
    cfg = sfnet_config.load(PARAMS)
    assert cfg.init in ("dense", "scratch") and cfg.k_list and train_config.load(PARAMS).k >= 1
    assert all(isinstance(v, int) for k, v in cfg.xgboost_kwargs.items() if k in ("n_estimators", "max_depth"))
    scratch = _with(_with(PARAMS, "sfnet.init", "scratch"), "sfnet.epochs", 0)
    with pytest.raises(ParamError, match="'sfnet.epochs' must be positive when sfnet.init is 'scratch'"):
        sfnet_config.load(scratch)
