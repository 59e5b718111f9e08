"""Stage trim_validate: the TRIM paper's known-band simulation (SPEC §8, paper §4 / Table 1).

Every method of `trim.validate.methods` must name the frequency band that sets the label of
simulated i.i.d. normal features (galaxy_xai.studies.trim.validate). Outputs: the per-dataset record
out/trim_validate/datasets.json and the error rate per method, with its count, standard error,
one-sided 95 % upper bound, two-sided interval and margin, beside the paper's Table 1, with checks
and headlines, in out/metrics/trim_validate.json.
"""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, trim as trim_config
from galaxy_xai.io import write_json
from galaxy_xai.studies import trim as study

log = runtime.logger("trim_validate")


def main() -> None:
    cfg = trim_config.load(read_params()).validate
    record, metrics = study.validate(cfg)
    write_json(layout.trim_validate().datasets, record)
    layout.write_metrics("trim_validate", metrics)
    for method, m in metrics["methods"].items():
        log.info("%s: %d / %d errors (%.1f %%, 95 %% upper bound %.1f %%)", method, m["errors"], m["n_datasets"],
                 m["error_percent"], m["upper95_percent"])


if __name__ == "__main__":
    runtime.run(main)
