"""Stage test_morphology@<model>: vote predictions of one model for the labelled and the test galaxies.

Outputs: out/predictions/<model>/predictions_train.csv and predictions_test.csv.
"""
import keras

from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, train as train_config
from galaxy_xai.studies.morphology import backbone_name, write_predictions


def main(name: str) -> None:
    name = backbone_name(name)
    train = train_config.load(read_params())
    model = keras.models.load_model(layout.morphology(name).need("model"))
    write_predictions(model, layout.prepared("galaxy_zoo"), train.batch_size, out=layout.predictions(name))


if __name__ == "__main__":
    runtime.run(main)
