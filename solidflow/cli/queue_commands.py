"""Commands of the run queue: launch queues a run, daemon starts queued runs and schedules,
sweep queues one run per point of a grid and summarises them."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import click
from rich.table import Table

from solidflow.cli.common import (
    EXIT_RUN_FAILED,
    config_option,
    err_console,
    executor_option,
    instance_of,
    memoize_option,
    mode_option,
    select_option,
    tag_option,
    user_errors,
    wide_console,
)
from solidflow.cli.config_files import load_run_config
from solidflow.daemon import Daemon
from solidflow.engine import (
    Instance,
    RunStatus,
    SweepSummary,
    create_run,
    describe_point,
    launch_sweep,
    load_pipeline,
    parse_grid_option,
    sweep_summary,
)

priority_option = click.option(
    "--priority",
    type=int,
    default=None,
    help="Queue priority: higher starts first (default 0).",
)
workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    multiple=True,
    help="A file or module that defines schedules (default: workspace in solidflow.yaml).",
)


@click.command()
@click.argument("target")
@config_option
@mode_option
@select_option
@executor_option
@tag_option
@priority_option
@memoize_option
@click.pass_context
@user_errors
def launch(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    mode: str | None,
    selection: str | None,
    executor: str | None,
    tags: dict[str, str],
    priority: int | None,
    memoize: bool | None,
) -> None:
    """Queue a run of TARGET and print its id; `solidflow daemon` starts it."""
    pipeline, loadable_target = load_pipeline(target)
    record = create_run(
        pipeline,
        load_run_config(configs),
        mode=mode,
        solid_selection=selection,
        executor=executor,
        instance=instance_of(ctx),
        tags=tags,
        memoize=memoize,
        target=loadable_target,
        priority=priority,
    )
    click.echo(record.run_id)


@click.command()
@workspace_option
@click.option(
    "--launcher", default=None, help="Run launcher (default: run_launcher in solidflow.yaml)."
)
@click.pass_context
@user_errors
def daemon(ctx: click.Context, workspace: tuple[str, ...], launcher: str | None) -> None:
    """Start queued runs, watch running ones and queue the runs of due schedule ticks, until
    stopped with Ctrl-C or SIGTERM (the runs it started go on)."""
    instance = instance_of(ctx)
    worker = Daemon(instance, workspace=workspace or None, launcher=launcher)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout, force=True
    )
    stop = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    names = ", ".join(sorted(worker.schedules)) or "none"
    click.echo(f"daemon of {instance.home} started; schedules: {names}")
    worker.run(stop)
    click.echo("daemon stopped")


@click.command()
@click.argument("target")
@config_option
@click.option(
    "--grid",
    "grids",
    multiple=True,
    required=True,
    help="path=v1,v2,... : a config path and its values (repeat for more paths).",
)
@click.option("--random", "sample", type=int, default=None, help="Run N random points of the grid.")
@click.option("--seed", type=int, default=None, help="Seed of --random.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="solid.name: a metadata entry or small output to show per point (repeatable).",
)
@mode_option
@select_option
@executor_option
@tag_option
@priority_option
@click.option(
    "--memoize/--no-memoize",
    default=True,
    help="Share the steps the points have in common (default: on).",
)
@click.option("--wait/--no-wait", default=True, help="Wait for the runs and print the summary.")
@click.pass_context
@user_errors
def sweep(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    grids: tuple[str, ...],
    sample: int | None,
    seed: int | None,
    metrics: tuple[str, ...],
    mode: str | None,
    selection: str | None,
    executor: str | None,
    tags: dict[str, str],
    priority: int | None,
    memoize: bool,
    wait: bool,
) -> None:
    """Queue one run of TARGET per point of the --grid values (base config from -c), wait for
    them (`solidflow daemon` starts them) and print a summary per point."""
    pipeline, loadable_target = load_pipeline(target)
    grid = dict(parse_grid_option(text) for text in grids)
    instance = instance_of(ctx)
    queued = launch_sweep(
        pipeline,
        load_run_config(configs),
        grid,
        sample=sample,
        seed=seed,
        instance=instance,
        mode=mode,
        solid_selection=selection,
        executor=executor,
        tags=tags,
        priority=priority,
        memoize=memoize,
        target=loadable_target,
    )
    click.echo(f"sweep {queued.sweep_id}: {len(queued.runs)} runs queued")
    if not wait:
        for each in queued.runs:
            click.echo(f"{each.run_id}  {describe_point(each.point)}")
        return
    _wait_for(instance, [each.run_id for each in queued.runs])
    summary = sweep_summary(instance, queued.sweep_id, metrics)
    _print_summary(summary, metrics)
    if any(row.status is not RunStatus.SUCCESS for row in summary.rows):
        sys.exit(EXIT_RUN_FAILED)


def _wait_for(instance: Instance, run_ids: list[str]) -> None:
    """Wait until the runs ended, saying how many did whenever that changes."""
    waiting = list(run_ids)
    shown = -1
    while True:
        waiting = [run_id for run_id in waiting if not _ended(instance, run_id)]
        if len(waiting) != shown:
            shown = len(waiting)
            err_console.print(f"{len(run_ids) - shown} of {len(run_ids)} runs ended")
        if not waiting:
            return
        time.sleep(0.5)


def _ended(instance: Instance, run_id: str) -> bool:
    run = instance.get_run(run_id)
    return run is None or run.status.ended


def _print_summary(summary: SweepSummary, metrics: tuple[str, ...]) -> None:
    table = Table("run id", "point", "status", "duration", *metrics, "computed", "served")
    for row in summary.rows:
        duration = f"{row.duration:.2f}s" if row.duration is not None else "-"
        values = [_metric_text(row.metrics.get(name)) for name in metrics]
        table.add_row(
            row.run_id[:12],
            describe_point(row.point),
            row.status.value,
            duration,
            *values,
            str(row.steps_computed),
            str(row.steps_served),
        )
    wide_console().print(table)


def _metric_text(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
