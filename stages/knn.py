"""Stage knn@<dataset>: the k_max nearest training galaxies of every galaxy in an SCL main-latent
space, nearest first; a training galaxy is its own first neighbour (SPEC §6).

Outputs out/knn/<dataset>/neighbours.npy (int32 [n, k_max], rows and values = rows of the SCL
predictions) and summary.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import knn as knn_config, read_params
from galaxy_xai.studies.stellar_mass import latent_neighbours

log = runtime.logger("knn")


def main(dataset: str) -> None:
    cfg = knn_config.load(read_params())
    latent_neighbours(layout.scl(dataset), cfg, out=layout.knn(dataset))


if __name__ == "__main__":
    runtime.run(main)
