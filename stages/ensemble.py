"""Stage ensemble: the mean of the three models' predictions, and every model's scores (SPEC §2),
with the checks "ensemble beats its best member" and "beats the mean votes" (issue 19).

Outputs: out/predictions/ensemble/, out/metrics/morphology.json (test scores only with data.truth).
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import data as data_config, read_params, xai as xai_config
from galaxy_xai.studies.ensemble import ensemble_study


def main() -> None:
    params = read_params()
    data, xai = data_config.load(params), xai_config.load(params)
    layout.write_metrics("morphology", ensemble_study(layout.prepared("galaxy_zoo"), data.truth, xai.n_bootstrap,
                                                      data.random_seed))


if __name__ == "__main__":
    runtime.run(main)
