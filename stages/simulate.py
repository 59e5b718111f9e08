"""Stage simulate: a GalSim universe written in the three survey layouts, plus truth.parquet."""
from galaxy_xai import layout, runtime
from galaxy_xai.config import read_params, simulate as simulate_config
from galaxy_xai.data.simulate import simulate_universe

log = runtime.logger("simulate")


def main() -> None:
    cfg = simulate_config.load(read_params())
    log.info("simulating %d galaxies (seed %d) into %s", cfg.n_galaxies, cfg.seed, layout.simulated())
    simulate_universe(cfg, layout.simulated())


if __name__ == "__main__":
    runtime.run(main)
