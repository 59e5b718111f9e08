"""Each params group refuses a wrong type, an out-of-range value and an unknown key, with one
sentence naming the key. Add a group's cases to CASES: (group, dotted key, bad value, fragment)."""
import copy
import importlib
from pathlib import Path

import pytest
import yaml

from galaxy_xai.errors import ParamError

ROOT = Path(__file__).resolve().parents[1]

UNKNOWN = object()  # as the bad value: the dotted key is a new (misspelt) key

CASES = [
    # data
    ("data", "data.img_height", "72", "key 'data.img_height' must be an integer >= 71, got '72'"),
    ("data", "data.img_height", 32, "key 'data.img_height' must be an integer >= 71, got 32"),
    ("data", "data.augmentation.validation_split", 1.0, "key 'data.augmentation.validation_split' must be a number in (0, 1)"),
    ("data", "data.img_width", 96, "key 'data.img_width' must equal data.img_height (72)"),
    ("data", "data.augmentation.fill", UNKNOWN, "unknown key 'data.augmentation.fill'"),
    ("data", "data.truht", UNKNOWN, "unknown key 'data.truht'"),
    # simulate
    ("simulate", "simulate.n_galaxies", "many", "key 'simulate.n_galaxies' must be an integer >= 8, got 'many'"),
    ("simulate", "simulate.n_galaxies", -5, "key 'simulate.n_galaxies' must be an integer >= 8, got -5"),
    ("simulate", "simulate.bar_seen_min_cos_i", 1.0, "key 'simulate.bar_seen_min_cos_i' must be a number in [0, 1)"),
    ("simulate", "simulate.bar_catalogue_z_max", "near", "key 'simulate.bar_catalogue_z_max' must be null or a number > 0"),
    ("simulate", "simulate.n_galaxy", UNKNOWN, "unknown key 'simulate.n_galaxy'"),
    # prepare
    ("prepare", "prepare.chunk_size", 2.5, "key 'prepare.chunk_size' must be an integer >= 1, got 2.5"),
    ("prepare", "prepare.chunk_size", 0, "key 'prepare.chunk_size' must be an integer >= 1, got 0"),
    ("prepare", "prepare.sdss_validation_split", 0, "key 'prepare.sdss_validation_split' must be a number in (0, 1)"),
    ("prepare", "prepare.chunk", UNKNOWN, "unknown key 'prepare.chunk'"),
    ("prepare", "prepare.vote_tolerance", -0.1, "key 'prepare.vote_tolerance' must be a number in [0, 0.5]"),
    ("prepare", "prepare.min_per_split", 1, "key 'prepare.min_per_split' must be an integer >= 3, got 1"),
    # model
    ("model", "model.weights", 3, "key 'model.weights' must be null or imagenet or the path of a local .h5"),
    ("model", "model.weights", "imagenet21k", "key 'model.weights' must be null or imagenet or the path of a local .h5"),
    ("model", "model.weights", "weights/vgg16.npz", "key 'model.weights' must be null or imagenet or the path"),
    ("model", "model.weight", UNKNOWN, "unknown key 'model.weight'"),
    # train
    ("train", "train.batch_size", True, "key 'train.batch_size' must be an integer >= 1, got True"),
    ("train", "train.epochs.vgg16", 0, "key 'train.epochs.vgg16' must be an integer >= 1, got 0"),
    ("train", "train.epochs", 6, "key 'train.epochs' must be a mapping with exactly the keys ['vgg16', 'resnet50v2', 'xception']"),
    ("train", "train.optimizer.schedule", "linear", "key 'train.optimizer.schedule' must be one of ['constant', 'cosine']"),
    ("train", "train.optimizer.decay", 0.1, "key 'train.optimizer.decay' must be 0 when train.optimizer.schedule is cosine"),
    ("train", "train.bn_momentum", 1.0, "key 'train.bn_momentum' must be null or a number in (0, 1)"),
    ("train", "train.callbacks.early_stopping.patiense", UNKNOWN, "unknown key 'train.callbacks.early_stopping.patiense'"),
    # xai
    ("xai", "xai.smooth_samples", 16.0, "key 'xai.smooth_samples' must be an integer >= 1, got 16.0"),
    ("xai", "xai.output", "Class12.1", "key 'xai.output' must be a vote column such as Class3.1, got 'Class12.1'"),
    ("xai", "xai.min_measured", 1.5, "key 'xai.min_measured' must be a number in [0, 1], got 1.5"),
    ("xai", "xai.corr_thresholds", [0.5, 0.5], "key 'xai.corr_thresholds' must be a non-empty list of distinct items"),
    ("xai", "xai.control.lr", "fast", "key 'xai.control.lr' must be a number > 0, got 'fast'"),
    ("xai", "xai.control.n_bootstrap", 10, "key 'xai.control.n_bootstrap' must be an integer >= 100, got 10"),
    ("xai", "xai.pin", {"mode": "vgg19", "xinput": False, "corr_threshold": 0.5, "len_threshold": 10},
     "key 'xai.pin.mode' must be one of ['vgg16', 'resnet50v2', 'xception', 'averageheatmaps', 'averagemeasurements']"),
    ("xai", "xai.control.epoch", UNKNOWN, "unknown key 'xai.control.epoch'"),
    ("xai", "xai.backbones", ["xception", "vgg19"], "each one of ['vgg16', 'resnet50v2', 'xception'], got ['xception', 'vgg19']"),
    ("xai", "xai.backbones", [], "key 'xai.backbones' must be a non-empty list of distinct items"),
    ("xai", "xai.select_by", "r", "key 'xai.select_by' must be one of ['per_r90', 'arcsec'], got 'r'"),
    ("xai", "xai.n_bootstrap", 10, "key 'xai.n_bootstrap' must be an integer >= 100, got 10"),
    ("xai", "xai.randomisation.n_galaxies", -1, "key 'xai.randomisation.n_galaxies' must be an integer >= 0, got -1"),
    ("xai", "xai.randomisation.fractions", [0.0, 1.0], "key 'xai.randomisation.fractions' must be a non-empty list of distinct items"),
    ("xai", "xai.randomisation.max_similarity", 2, "key 'xai.randomisation.max_similarity' must be a number in [-1, 1], got 2"),
    # scl
    ("scl", "scl.bins", 2.5, "key 'scl.bins' must be an integer >= 2, got 2.5"),
    ("scl", "scl.lr_drop_fraction", 1.5, "key 'scl.lr_drop_fraction' must be a number in (0, 1], got 1.5"),
    ("scl", "scl.iterations", {"photometry": 3000}, "key 'scl.iterations' must be a mapping with exactly the keys ['photometry', 'image']"),
    ("scl", "scl.e", -1, "key 'scl.e' must be null or an integer >= 0, got -1"),
    ("scl", "scl.epochs", 7, "key 'scl.epochs' (7) must divide scl.iterations.photometry (3000)"),
    ("scl", "scl.y_max", 5.0, "key 'scl.y_max' must exceed scl.y_min (6.0), got 5.0"),
    ("scl", "scl.coef_recon", UNKNOWN, "unknown key 'scl.coef_recon'"),
    ("scl", "scl.n_bootstrap", 0, "key 'scl.n_bootstrap' must be an integer >= 1, got 0"),
    # mi
    ("mi", "mi.batch_size.image", 0, "key 'mi.batch_size.image' must be an integer >= 1, got 0"),
    ("mi", "mi.prior_smoothing", "wide", "key 'mi.prior_smoothing' must be null or a number >= 0, got 'wide'"),
    ("mi", "mi.p_hi", 0.05, "key 'mi.p_hi' must exceed mi.p_lo (0.1), got 0.05"),
    ("mi", "mi.pairs", ["Mopt-Zspec"], "key 'mi.datasets' must list every input set the pairs use: Mopt-Zspec needs Zspec, Mopt+Zspec"),
    ("mi", "mi.pair", UNKNOWN, "unknown key 'mi.pair'"),
    ("mi", "mi.union_patience", 0, "key 'mi.union_patience' must be an integer >= 1, got 0"),
    ("mi", "mi.union_max_epochs", 2, "key 'mi.union_max_epochs' must be 0 or at least mi.epochs (3), got 2"),
    ("mi", "mi.union_tolerance", -0.1, "key 'mi.union_tolerance' must be a number >= 0, got -0.1"),
    ("mi", "mi.n_bootstrap", 0.5, "key 'mi.n_bootstrap' must be an integer >= 1, got 0.5"),
    # knn
    ("knn", "knn.k_max", "100", "key 'knn.k_max' must be an integer >= 1, got '100'"),
    ("knn", "knn.workers", -1, "key 'knn.workers' must be an integer >= 0, got -1"),
    ("knn", "knn.kmax", UNKNOWN, "unknown key 'knn.kmax'"),
    # local_tests
    ("local_tests", "local_tests.weights", "yes", "key 'local_tests.weights' must be true or false, got 'yes'"),
    ("local_tests", "local_tests.k_nn", 3, "key 'local_tests.k_nn' must be an integer >= 4, got 3"),
    ("local_tests", "local_tests.truth_query", 5, "key 'local_tests.truth_query' must be null or a string, got 5"),
    ("local_tests", "local_tests.condtion", UNKNOWN, "unknown key 'local_tests.condtion'"),
    ("local_tests", "local_tests.n_bootstrap", -1, "key 'local_tests.n_bootstrap' must be an integer >= 1, got -1"),
    # figures
    ("figures", "figures.n_sample_galaxies", "4", "key 'figures.n_sample_galaxies' must be an integer >= 1, got '4'"),
    ("figures", "figures.n_sample_galaxies", 0, "key 'figures.n_sample_galaxies' must be an integer >= 1, got 0"),
    ("figures", "figures.heatmap_classes", ["Class3.9"], "key 'figures.heatmap_classes' must be a non-empty list"),
    ("figures", "figures.n_samples", UNKNOWN, "unknown key 'figures.n_samples'"),
    # trim
    ("trim", "trim.n_images", "64", "key 'trim.n_images' must be an integer >= 1, got '64'"),
    ("trim", "trim.n_bands", 1, "key 'trim.n_bands' must be an integer >= 2, got 1"),
    ("trim", "trim.min_prediction_ratio", 1.5, "key 'trim.min_prediction_ratio' must be a number in [0, 1], got 1.5"),
    ("trim", "trim.output", "Class12.1", "key 'trim.output' must be a vote column such as Class3.1, got 'Class12.1'"),
    ("trim", "trim.methods", ["knockout", "lime"],
     "key 'trim.methods' must be a non-empty list of distinct items, each one of ['integrated_gradients', "),
    ("trim", "trim.n_image", UNKNOWN, "unknown key 'trim.n_image'"),
    ("trim", "trim.ig_tolerance", 0, "key 'trim.ig_tolerance' must be a number > 0, got 0"),
    ("trim", "trim.max_steps", 0, "key 'trim.max_steps' must be an integer >= 1, got 0"),
    ("trim", "trim.cd_tolerance", -1e-3, "key 'trim.cd_tolerance' must be a number > 0, got -0.001"),
    ("trim", "trim.validate", 20, "key 'trim.validate' must be a mapping of ['n_datasets', "),
    ("trim", "trim.validate.n_train", 5.0, "key 'trim.validate.n_train' must be an integer >= 10, got 5.0"),
    ("trim", "trim.validate.n_features", 2, "key 'trim.validate.n_features' must be an integer >= 4, got 2"),
    ("trim", "trim.validate.hidden", 0, "key 'trim.validate.hidden' must be an integer >= 1, got 0"),
    ("trim", "trim.validate.learning_rate", 0, "key 'trim.validate.learning_rate' must be"),
    ("trim", "trim.validate.methods", ["shap"], "key 'trim.validate.methods' must be a non-empty list of distinct items"),
    ("trim", "trim.validate.aggregate", "median", "key 'trim.validate.aggregate' must be one of ['mean_abs', 'mean'], got 'median'"),
    ("trim", "trim.validate.n_dataset", UNKNOWN, "unknown key 'trim.validate.n_dataset'"),
    # sfnet
    ("sfnet", "sfnet.crop", "48", "key 'sfnet.crop' must be an integer >= 32, got '48'"),
    ("sfnet", "sfnet.crop", 16, "key 'sfnet.crop' must be an integer >= 32, got 16"),
    ("sfnet", "sfnet.standardise", "yes", "key 'sfnet.standardise' must be true or false, got 'yes'"),
    ("sfnet", "sfnet.trainable_from", "stage9", "key 'sfnet.trainable_from' must be one of ['stem', 'stage1', "),
    ("sfnet", "sfnet.compare_targets", ["metallicity", "oxygen"],
     "key 'sfnet.compare_targets' must be a non-empty list of distinct items, each one of ['metallicity', 'lines']"),
    ("sfnet", "sfnet.k_list", [4, 4], "key 'sfnet.k_list' must be a non-empty list of distinct items, each an integer in [1, 512]"),
    ("sfnet", "sfnet.n_top_galaxies", 10, "key 'sfnet.n_top_galaxies' must be an integer in [1, 9], got 10"),
    ("sfnet", "sfnet.lr", 0, "key 'sfnet.lr' must be a number > 0, got 0"),
    ("sfnet", "sfnet.xgboost", {"n_estimator": 5}, "key 'sfnet.xgboost' must be a mapping with some of the keys ['n_estimators', "),
    ("sfnet", "sfnet.xgboost.max_depth", 0, "key 'sfnet.xgboost.max_depth' must be an integer >= 1, got 0"),
    ("sfnet", "sfnet.xgboost.max_depth", 4.5, "key 'sfnet.xgboost.max_depth' must be an integer >= 1, got 4.5"),
    ("sfnet", "sfnet.epocs", UNKNOWN, "unknown key 'sfnet.epocs'"),
    ("sfnet", "sfnet.n_bootstrap", 10, "key 'sfnet.n_bootstrap' must be an integer >= 100, got 10"),
    ("sfnet", "sfnet.memorise_alphas", [1.0, 0.0], "key 'sfnet.memorise_alphas' must be a non-empty list of distinct items, each a number > 0"),
    ("sfnet", "sfnet.memorise_min_galaxies_per_parameter", 0.5,
     "key 'sfnet.memorise_min_galaxies_per_parameter' must be a number >= 1, got 0.5"),
    ("sfnet", "sfnet.dense_tolerance", -0.1, "key 'sfnet.dense_tolerance' must be a number >= 0, got -0.1"),
    ("sfnet", "sfnet.ridge_low_r2", 1.5, "key 'sfnet.ridge_low_r2' must be a number in [0, 1], got 1.5"),
    ("sfnet", "sfnet.pca_explain_components", 0, "key 'sfnet.pca_explain_components' must be an integer >= 1, got 0"),
    ("sfnet", "sfnet.zoobot.epochs", 0, "key 'sfnet.zoobot.epochs' must be an integer >= 1, got 0"),
    ("sfnet", "sfnet.zoobot.lr", -1.0, "key 'sfnet.zoobot.lr' must be a number > 0, got -1.0"),
    ("sfnet", "sfnet.zoobot.max_train", 0, "key 'sfnet.zoobot.max_train' must be null or an integer >= 1, got 0"),
    ("sfnet", "sfnet.zoobot.epoch", UNKNOWN, "unknown key 'sfnet.zoobot.epoch'"),
    # train.k (the SFNet's k, in the train group: `dvc exp run -S train.k=4`)
    ("train", "train.k", 4.5, "key 'train.k' must be an integer in [1, 512], got 4.5"),
    ("train", "train.k", 513, "key 'train.k' must be an integer in [1, 512], got 513"),
    ("train", "train.kk", UNKNOWN, "unknown key 'train.kk'"),
    ("train", "train.precision", "float16", "key 'train.precision' must be one of ['float32', 'mixed_float16', 'mixed_bfloat16']"),
    ("train", "train.distribute", "horovod", "key 'train.distribute' must be one of ['none', 'mirrored', 'multi_worker']"),
]


def _set(params, dotted, value):
    *path, last = dotted.split(".")
    node = params
    for part in path:
        node = node[part]
    node[last] = value if value is not UNKNOWN else 1


@pytest.mark.parametrize("group, dotted, value, fragment", CASES, ids=[f"{c[1]}={c[2]!r}"[:60] for c in CASES])
def test_a_bad_value_is_refused_in_one_sentence_naming_the_key(repo_params, group, dotted, value, fragment):
    params = copy.deepcopy(repo_params)
    _set(params, dotted, value)
    loader = importlib.import_module(f"galaxy_xai.config.{group}").load
    with pytest.raises(ParamError) as err:
        loader(params)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message and message.count(". ") == 0  # one sentence


def test_every_params_group_has_cases():
    assert {c[0] for c in CASES} == set(yaml.safe_load((ROOT / "params.yaml").read_text()))


@pytest.mark.parametrize("group", sorted({c[0] for c in CASES}))
def test_the_repository_params_load(repo_params, group):
    importlib.import_module(f"galaxy_xai.config.{group}").load(repo_params)


@pytest.mark.parametrize("group", sorted({c[0] for c in CASES}))
def test_a_missing_key_is_named(repo_params, group):
    params = copy.deepcopy(repo_params)
    first = next(iter(params[group]))
    del params[group][first]
    with pytest.raises(ParamError, match=f"missing key '{group}.{first}'"):
        importlib.import_module(f"galaxy_xai.config.{group}").load(params)
