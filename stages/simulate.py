"""Stage simulate: a GalSim universe written in the three survey layouts, plus truth.parquet."""
import sys

from galaxy_xai.data.simulate import simulate_universe
from galaxy_xai.io import check_known, get_logger, load_params, require

log = get_logger("stage.simulate")
POSITIVE_INT = dict(kind=int, check=lambda v: v > 0, what="a positive integer")


def main(params_path="params.yaml", out_dir="data/simulated"):
    params = load_params(params_path)
    keys = ["n_galaxies", "seed", "workers", "stamp_size", "gz_size", "gz_width_r90", "noise_scale", "psf_fwhm_arcsec", "gz_test_fraction",
            "rgb_stretch", "rgb_q", "bar_seen_min_cos_i", "bar_catalogue_z_max"]
    check_known(params, "simulate", keys, params_path)
    n = require(params, "simulate.n_galaxies", int, lambda v: v >= 8, "an integer >= 8", params_path)
    seed = require(params, "simulate.seed", int, lambda v: v >= 0, "a non-negative integer", params_path)
    workers = require(params, "simulate.workers", int, lambda v: v >= 0, "a non-negative integer (0 = all cores)", params_path)
    stamp = require(params, "simulate.stamp_size", int, lambda v: v >= 16, "an integer >= 16", params_path)
    gz_size = require(params, "simulate.gz_size", int, lambda v: v >= 16, "an integer >= 16", params_path)
    number = (int, float)
    opts = {k: float(require(params, f"simulate.{k}", number, lambda v: v > 0, "a positive number", params_path))
            for k in ["gz_width_r90", "noise_scale", "psf_fwhm_arcsec", "rgb_stretch", "rgb_q"]}
    opts.update({k: float(require(params, f"simulate.{k}", number, lambda v: 0 <= v < 1, "a number in [0, 1)", params_path))
                 for k in ["gz_test_fraction", "bar_seen_min_cos_i"]})
    z_max = require(params, "simulate.bar_catalogue_z_max", (*number, type(None)), lambda v: v is None or v > 0, "null or a positive redshift", params_path)
    opts["bar_catalogue_z_max"] = None if z_max is None else float(z_max)
    log.info("simulating %d galaxies (seed %d) into %s", n, seed, out_dir)
    simulate_universe(n, out_dir, seed=seed, workers=workers or None, stamp_size=stamp, gz_size=gz_size, **opts)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
