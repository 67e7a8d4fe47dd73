"""`solidflow schedule`: list, start, stop and preview the schedules of a workspace, and show
their ticks."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import click
from rich.table import Table

from solidflow import ScheduleDefinition
from solidflow.cli.common import instance_of, user_errors, wide_console
from solidflow.cli.queue_commands import workspace_option
from solidflow.engine import (
    Instance,
    ScheduleState,
    find_schedule,
    list_schedules,
    load_schedules,
    preview_schedule,
    schedule_ticks,
    start_schedule,
    stop_schedule,
)


def _time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _schedules(instance: Instance, workspace: tuple[str, ...]) -> dict[str, ScheduleDefinition]:
    return load_schedules(workspace or instance.config.workspace)


@click.group()
def schedule() -> None:
    """Schedules: run pipelines on cron schedules (the daemon queues their runs)."""


@schedule.command("list")
@workspace_option
@click.pass_context
@user_errors
def list_command(ctx: click.Context, workspace: tuple[str, ...]) -> None:
    """The schedules of the workspace, whether they run, their next and last tick."""
    instance = instance_of(ctx)
    infos = list_schedules(instance, _schedules(instance, workspace), time.time())
    table = Table("schedule", "pipeline", "cron", "timezone", "status", "next tick", "last tick")
    for info in infos:
        last = "-"
        if info.last_tick is not None:
            last = f"{_time(info.last_tick.tick_time)} {info.last_tick.status.value}"
        table.add_row(
            info.name,
            info.pipeline,
            info.cron,
            info.timezone,
            info.status.value,
            _time(info.next_tick),
            last,
        )
    wide_console().print(table)


@schedule.command()
@click.argument("name")
@workspace_option
@click.pass_context
@user_errors
def start(ctx: click.Context, name: str, workspace: tuple[str, ...]) -> None:
    """Start schedule NAME: the daemon queues a run at each of its ticks from now on."""
    _change(ctx, name, workspace, start_schedule)


@schedule.command()
@click.argument("name")
@workspace_option
@click.pass_context
@user_errors
def stop(ctx: click.Context, name: str, workspace: tuple[str, ...]) -> None:
    """Stop schedule NAME: no more of its ticks are queued."""
    _change(ctx, name, workspace, stop_schedule)


def _change(
    ctx: click.Context,
    name: str,
    workspace: tuple[str, ...],
    change: Callable[[Instance, str, float], ScheduleState],
) -> None:
    instance = instance_of(ctx)
    find_schedule(_schedules(instance, workspace), name)
    click.echo(f"schedule {name}: {change(instance, name, time.time()).status.value}")


@schedule.command()
@click.argument("name")
@click.option("-n", "--count", type=click.IntRange(min=1), default=5, show_default=True)
@workspace_option
@click.pass_context
@user_errors
def preview(ctx: click.Context, name: str, count: int, workspace: tuple[str, ...]) -> None:
    """The next ticks of schedule NAME and the run_config each would get."""
    instance = instance_of(ctx)
    definition = find_schedule(_schedules(instance, workspace), name)
    for tick in preview_schedule(definition, time.time(), count):
        click.echo(f"{tick.local_time}  ({_time(tick.tick_time)})")
        if tick.run_config is not None:
            click.echo(f"  run_config: {json.dumps(tick.run_config, default=str)}")
        for problem in tick.problems:
            click.echo(f"  problem: {problem}")


@schedule.command()
@click.argument("name")
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
@user_errors
def ticks(ctx: click.Context, name: str, limit: int) -> None:
    """The recorded ticks of schedule NAME, latest first: time, status, run, error."""
    table = Table("tick", "status", "run id", "error")
    for tick in schedule_ticks(instance_of(ctx), name, limit):
        table.add_row(
            _time(tick.tick_time), tick.status.value, tick.run_id or "-", tick.error or ""
        )
    wide_console().print(table)
