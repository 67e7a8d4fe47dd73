"""solidflow's benchmarks (installed as solidflow.benchmarks): the `solidflow bench` suite and
standalone scripts that measure one thing each."""
