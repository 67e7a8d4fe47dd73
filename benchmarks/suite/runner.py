"""Run the whole suite: every workload on one executor, with a progress bar, then the table,
results.json and plots."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from solidflow import Instance
from solidflow.benchmarks.suite.measure import Result
from solidflow.benchmarks.suite.plots import write_plots
from solidflow.benchmarks.suite.report import print_table, write_json
from solidflow.benchmarks.suite.scales import SCALES
from solidflow.benchmarks.suite.shapes import RayActorPool, RayShapes
from solidflow.benchmarks.suite.workloads import WORKLOADS, Bench, rounds
from solidflow.engine.executors.configs import RayConfig
from solidflow.engine.executors.ray.connection import connect

RESULTS_FILE = "results.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteOptions:
    """What `solidflow bench` was asked for."""

    executor: str = "ray"
    address: str | None = None
    scale: str = "small"
    out: Path = Path("bench_results")


def _connect_ray(address: str | None) -> tuple[RayShapes, RayActorPool]:
    """Join Ray the way the engine does, so Ray's own notices stay out of the table."""
    config = RayConfig(address=address)
    connect(
        address,
        namespace=config.namespace,
        runtime_env=None,
        timeout=config.connect_timeout,
        show_ray_logs=False,
        say=lambda _message: None,
    )
    return RayShapes.create(), RayActorPool()


def run_suite(options: SuiteOptions, console: Console | None = None) -> list[Result]:
    """Run every workload, print the table and write results.json and the plots into
    `options.out`; the results."""
    console = console or Console()
    scale = SCALES[options.scale]
    options.out.mkdir(parents=True, exist_ok=True)
    ray_shapes, actor_pool = (
        _connect_ray(options.address) if options.executor == "ray" else (None, None)
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="solidflow-bench-") as home:
        instance = Instance(Path(home))
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress:
            task = progress.add_task("benchmarking", total=rounds(scale, options.executor))
            bench = Bench(
                executor=options.executor,
                instance=instance,
                scale=scale,
                tick=lambda: progress.advance(task),
                ray_shapes=ray_shapes,
                actor_pool=actor_pool,
            )
            for workload in WORKLOADS:
                progress.update(task, description=workload.__name__.replace("_", " "))
                results.extend(workload(bench))
        instance.close()
    settings = {
        "executor": options.executor,
        "address": options.address,
        "scale": scale.name,
        "repetitions": scale.repetitions,
        "warmups": 1,
    }
    title = f"solidflow bench: {scale.name} scale, {options.executor} executor"
    print_table(results, title, console)
    write_json(options.out / RESULTS_FILE, settings, results)
    for path in write_plots(results, options.out):
        console.print(f"wrote {path}")
    console.print(f"wrote {options.out / RESULTS_FILE}")
    return results
