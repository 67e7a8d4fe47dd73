"""Commands about runs: runs and logs read what happened, cancel stops a run."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable

import click
from rich.console import Console
from rich.table import Table

from solidflow.cli.common import instance_of, user_errors, wide_console
from solidflow.cli.display import EventLines
from solidflow.cli.lazy import LazyGroup
from solidflow.engine import EventRecord, RunStatus, find_run


def format_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@click.group(
    cls=LazyGroup,
    lazy_commands={"delete": "solidflow.cli.retention_commands:delete"},
    invoke_without_command=True,
)
@click.option("--status", type=click.Choice([s.value for s in RunStatus]), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
@user_errors
def runs(ctx: click.Context, status: str | None, limit: int) -> None:
    """List recent runs, newest first, with the run each one re-executes (`runs delete`
    deletes runs)."""
    if ctx.invoked_subcommand is not None:
        return
    records = instance_of(ctx).runs(status=RunStatus(status) if status else None, limit=limit)
    table = Table("run id", "pipeline", "status", "created", "duration", "parent", "tags")
    for column in table.columns[:6]:
        column.no_wrap = True
    for record in records:
        began = record.start_time
        duration = f"{record.end_time - began:.2f}s" if record.end_time and began else "-"
        tags = " ".join(f"{k}={v}" for k, v in record.tags.items())
        parent = record.parent_run_id or "-"
        if record.root_run_id and record.root_run_id != record.parent_run_id:
            parent += f" (root {record.root_run_id[:8]})"
        table.add_row(
            record.run_id,
            record.pipeline_name,
            record.status.value,
            format_time(record.create_time),
            duration,
            parent,
            tags,
        )
    wide_console().print(table)


@click.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_context
@user_errors
def logs(ctx: click.Context, run_id: str, follow: bool, as_json: bool) -> None:
    """Print the events of run RUN_ID (a unique prefix is enough; "latest" is the newest run)."""
    instance = instance_of(ctx)
    record = find_run(instance, run_id)
    pages = instance.watch_pages(record.run_id) if follow else instance.event_pages(record.run_id)
    render: Callable[[EventRecord], str] = (
        _json_line if as_json else EventLines(Console(highlight=False))
    )
    out = sys.stdout
    try:
        for page in pages:
            out.write("".join(map(render, page)))
            out.flush()
    except BrokenPipeError:  # the reader (e.g. head) has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def _json_line(event: EventRecord) -> str:
    return json.dumps(event.to_dict(), default=str) + "\n"


@click.command()
@click.argument("run_id")
@click.option("--wait", is_flag=True, help="Wait until the run has ended.")
@click.pass_context
@user_errors
def cancel(ctx: click.Context, run_id: str, wait: bool) -> None:
    """Cancel run RUN_ID (a unique prefix, or "latest"), from any process or host.

    A queued run is canceled at once; a running one stops cooperatively: its driver submits
    no more steps and stops those in flight; completed steps keep their stored outputs.
    """
    instance = instance_of(ctx)
    record = instance.cancel_run(find_run(instance, run_id).run_id)
    while wait and not record.status.ended:
        time.sleep(0.2)
        record = instance.get_run(record.run_id) or record
    click.echo(f"run {record.run_id}: {record.status.value}")


@click.command()
@click.pass_context
@user_errors
def recover(ctx: click.Context) -> None:
    """Recover a damaged event log: move it aside and copy the runs and events that can
    still be read into a new one (a run whose record is lost is rebuilt from its events)."""
    recovery = instance_of(ctx).recover_event_log()
    if recovery.damage is None:
        click.echo(f"the event log {recovery.path} is not damaged; nothing changed")
        return
    click.echo(f"the event log {recovery.path} was damaged ({recovery.damage})")
    click.echo(f"moved it to {recovery.moved_to}")
    summary = f"recovered {recovery.runs + recovery.rebuilt} runs and {recovery.events} events"
    if recovery.rebuilt:
        summary += f" ({recovery.rebuilt} runs rebuilt from their events)"
    click.echo(f"{summary} into a new {recovery.path}")
    for table, first, last in recovery.unreadable:
        rows = f"rows {first}-{last}" if last >= 0 else "all rows"
        click.echo(f"{rows} of table {table} could not be read")
