"""Stage local_tests@<dataset>: local independence tests of y and a query x, unconditional and given
c, over each galaxy's nearest training neighbours in an SCL latent space (SPEC §6); with data.truth,
the same with a latent truth column as x.

Outputs out/local_tests/<dataset>/tests.parquet (per-galaxy tests) and
out/metrics/local_tests_<dataset>.json (per split and over the whole training set).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, local_tests as tests_config, read_params
from galaxy_xai.studies.stellar_mass import independence_tests

log = runtime.logger("local_tests")


def main(dataset: str) -> None:
    params = read_params()
    cfg, truth = tests_config.load(params), data_config.load(params).truth
    metrics = independence_tests(layout.scl(dataset), layout.knn(dataset), cfg, truth, out=layout.local_tests(dataset))
    layout.write_metrics(f"local_tests_{dataset}", metrics)


if __name__ == "__main__":
    runtime.run(main)
