"""Stage prepare: read the three source layouts named in params, write out/prepared/<family>/."""
import sys
from pathlib import Path

from galaxy_xai.data.prepare import prepare_galaxy_zoo, prepare_sdss, prepare_stellar_mass
from galaxy_xai.io import check_known, get_logger, load_params, require

log = get_logger("stage.prepare")


def main(params_path="params.yaml", out_dir="out/prepared"):
    params = load_params(params_path)
    check_known(params, "prepare", ["chunk_size", "sdss_size", "sdss_validation_split", "seed"], params_path)
    src = {k: require(params, f"data.{k}", str, what="a folder path", source=params_path) for k in ("galaxy_zoo", "sdss", "stellar_mass")}
    size = require(params, "data.img_height", int, lambda v: v >= 32, "an integer >= 32", params_path)
    width = require(params, "data.img_width", int, lambda v: v == size, f"equal to data.img_height ({size}): images are square", params_path)
    val = require(params, "data.augmentation.validation_split", float, lambda v: 0 < v < 1, "a number in (0, 1)", params_path)
    chunk = require(params, "prepare.chunk_size", int, lambda v: v > 0, "a positive integer", params_path)
    sdss_size = require(params, "prepare.sdss_size", int, lambda v: v >= 32, "an integer >= 32", params_path)
    sdss_val = require(params, "prepare.sdss_validation_split", float, lambda v: 0 < v < 1, "a number in (0, 1)", params_path)
    seed = require(params, "prepare.seed", int, lambda v: v >= 0, "a non-negative integer", params_path)
    out = Path(out_dir)
    prepare_galaxy_zoo(src["galaxy_zoo"], out / "galaxy_zoo", width, val, seed, chunk)
    prepare_sdss(src["sdss"], out / "sdss", sdss_size, sdss_val, seed, chunk)
    prepare_stellar_mass(src["stellar_mass"], out / "stellar_mass", chunk)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
