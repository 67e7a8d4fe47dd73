"""`solidflow bench`: the engine-throughput benchmark suite."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from solidflow.cli.common import user_errors, wide_console
from solidflow.errors import SolidflowError

_SCALES = ("small", "medium", "large")


@click.command("bench")
@click.option(
    "--executor",
    type=click.Choice(["in_process", "ray"]),
    default="ray",
    show_default=True,
    help="Executor to measure: against hand-written ray.remote code on ray, against plain "
    "function calls in process.",
)
@click.option("--address", default=None, help="Ray cluster to join (default: a local Ray).")
@click.option("--scale", type=click.Choice(_SCALES), default="small", show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench_results"),
    show_default=True,
    help="Directory for results.json and the PNG plots.",
)
@user_errors
def bench(executor: str, address: str | None, scale: str, out: Path) -> None:
    """Measure solidflow's engine overhead against hand-written code, in the same run.

    Workloads: trivial solids (fan-out, chain, independent, random layered DAG), a data-plane
    chain passing an Arrow table, memoized re-runs, event-log ingest and startup. Prints a
    table of medians, spreads and ratios, and writes results.json and PNG plots to --out.
    """
    needed = ("matplotlib", "ray") if executor == "ray" else ("matplotlib",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SolidflowError(
            f"solidflow bench needs {' and '.join(missing)}: pip install 'solidflow[bench,ray]'"
        )
    if address is not None and executor != "ray":
        raise SolidflowError("--address is for --executor ray")
    from solidflow.benchmarks.suite import SuiteOptions, run_suite

    run_suite(
        SuiteOptions(executor=executor, address=address, scale=scale, out=out), wide_console()
    )
