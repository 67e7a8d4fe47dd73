"""The `solidflow` command: run pipelines, queue them for the daemon, schedule and sweep
them, read runs and their events, cancel and delete runs, manage stored outputs, migrate the
event log, benchmark the engine, serve the web UI."""

from __future__ import annotations

import click

from solidflow.cli.bench_commands import bench
from solidflow.cli.common import print_warnings
from solidflow.cli.inspect_commands import cancel, logs, recover, runs
from solidflow.cli.instance_commands import instance
from solidflow.cli.memo_commands import explain
from solidflow.cli.queue_commands import daemon, launch, sweep
from solidflow.cli.retention_commands import delete, gc
from solidflow.cli.run_commands import config_schema_command, plan, reexecute, run
from solidflow.cli.schedule_commands import schedule
from solidflow.cli.store_commands import store
from solidflow.cli.ui_command import ui


@click.group()
@click.option(
    "--home",
    envvar="SOLIDFLOW_HOME",
    type=click.Path(file_okay=False),
    help="The instance directory (default: $SOLIDFLOW_HOME or ~/.solidflow).",
)
@click.version_option(package_name="solidflow")
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """solidflow: typed, testable data pipelines."""
    ctx.obj = home
    print_warnings()


for command in (
    run,
    launch,
    daemon,
    schedule,
    sweep,
    reexecute,
    plan,
    explain,
    config_schema_command,
    runs,
    logs,
    cancel,
    recover,
    store,
    instance,
    gc,
    bench,
    ui,
):
    main.add_command(command)
runs.add_command(delete)
