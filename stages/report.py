"""Stage report: out/report.md, every study's headline beside its source paper's with a verdict
(reproduced / not reproduced / inconclusive) from the checks in out/metrics (issue 19)."""
from galaxy_xai import layout, runtime
from galaxy_xai.io import atomic_path
from galaxy_xai.studies.report import read_all, render

log = runtime.logger("report")


def main() -> None:
    metrics = read_all(layout.metrics_dir())
    log.info("report: %d metrics files from %s", len(metrics), layout.metrics_dir())
    with atomic_path(layout.report()) as tmp:
        tmp.write_text(render(metrics))


if __name__ == "__main__":
    runtime.run(main)
