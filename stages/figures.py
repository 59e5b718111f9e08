"""Stage figures: every study's figures (SPEC §9), rendered from the stages' outputs into out/figures/."""
from galaxy_xai import layout, runtime
from galaxy_xai.config import figures, local_tests, mi, read_params, scl, sfnet, xai
from galaxy_xai.studies.figures import draw_all


def main() -> None:
    params = read_params()
    draw_all(figures.load(params), xai.load(params), sfnet.load(params), scl.load(params),
             local_tests.load(params), mi.load(params), layout.figures())


if __name__ == "__main__":
    runtime.run(main)
