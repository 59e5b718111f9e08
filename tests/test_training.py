"""The shared image pipeline keeps every image with its target and every prediction in row order."""
import keras
import numpy as np

from galaxy_xai.models.training import image_batches, predict_rows

ROWS = np.array([5, 2, 9, 0, 7, 1, 3, 8])  # deliberately unsorted, as a train + validation concat is


def _images():
    # image r is filled with the value r, so every batch says which rows it holds
    return np.repeat(np.arange(10, dtype=np.uint8), 4 * 4 * 3).reshape(10, 4, 4, 3)


def test_batches_follow_the_order_of_rows_and_keep_their_targets():
    ds = image_batches(_images(), ROWS, ROWS[:, None] * 10.0, batch_size=3, scale=1.0)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    seen = np.concatenate([x[:, 0, 0, 0] for x in xs])
    assert list(seen) == list(ROWS)
    assert np.array_equal(np.concatenate(ys)[:, 0], seen * 10)


def test_shuffled_batches_keep_every_image_with_its_target():
    ds = image_batches(_images(), ROWS, ROWS[:, None] * 10.0, batch_size=3, shuffle=True, seed=1, scale=1.0)
    pairs = [(x[:, 0, 0, 0], y[:, 0]) for x, y in ((x.numpy(), y.numpy()) for x, y in ds)]
    assert all(np.array_equal(x * 10, y) for x, y in pairs)
    assert sorted(np.concatenate([x for x, _ in pairs])) == sorted(ROWS)


def test_predictions_come_out_in_the_order_of_rows():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    pred = predict_rows(model, _images(), ROWS, batch_size=3)
    assert np.allclose(pred[:, 0] * 255, ROWS)
