"""The control of the bar-length study (SPEC §3): a CNN regressing the catalogue bar length directly
from the GZ2 images, the baseline a heatmap length must beat. Its scores: galaxy_xai.studies.bars."""
from __future__ import annotations

import logging

from galaxy_xai import layout
from galaxy_xai.io import atomic_path
from galaxy_xai.models.morphology import build_regressor, compile_model, configured_augmentation
from galaxy_xai.models.training import StopOnNonFinite, image_batches, predict_rows, set_seeds, strategy, strategy_scope
from galaxy_xai.studies.bars import control_scores, heatmap_test_lengths

log = logging.getLogger(__name__)


def control(prepared: layout.Prepared, tested: layout.BarTest, data, train, model_cfg, cfg, out: layout.Control) -> dict:
    """Xception regressing the catalogue bar length directly from the GZ2 images: trained on every
    bar galaxy but the heatmap lengths' test galaxies (with xai.max_galaxies null, the heatmaps'
    validation half: the paper's set-up) and scored on those, like for like. Writes out.model and
    out.lengths; returns the metrics. `cfg`: the `xai.control` params."""
    strategy(train.distribute)  # a multi-worker strategy must exist before any other TensorFlow op
    seed = data.random_seed
    set_seeds(seed)
    bars, images = prepared.read_bars(), prepared.read_images("bar_images")
    heatmap = heatmap_test_lengths(tested)
    is_tested = bars["objid"].isin(heatmap.index).to_numpy()
    fit, test = bars[~is_tested], bars[is_tested]
    log.info("control: Xception on %d bar galaxies, tested on %d, %d epochs", len(fit), len(test), cfg.epochs)
    with strategy_scope(train):  # train.precision, train.distribute
        model = build_regressor(data.image_shape, model_cfg.weights, train.bn_momentum)
    ds = image_batches(images, fit["row"], fit[["length_scaled"]], train.batch_size, shuffle=True, seed=seed,
                       augment=configured_augmentation(data.augmentation, seed))
    # The morphology CNNs' learning-rate schedule, so the control is trained as well as they are.
    with strategy_scope(train):
        compile_model(model, cfg.lr, jit_compile=train.jit_compile["xception"], schedule=train.optimizer.schedule,
                      total_steps=cfg.epochs * len(ds))
    model.fit(ds, epochs=cfg.epochs, verbose=1, callbacks=[StopOnNonFinite("control")])  # a progress bar: epochs take minutes
    predicted = predict_rows(model, images, test["row"], train.batch_size)[:, 0]
    metrics, lengths = control_scores(test, predicted, heatmap, data.truth, cfg.n_bootstrap, seed)
    with atomic_path(out.dir) as tmp:
        tmp.mkdir()
        new = out.at(tmp)
        model.save(new.model)
        lengths.to_csv(new.lengths, index=False)
    return metrics
