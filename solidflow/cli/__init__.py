"""The `solidflow` command: run pipelines, queue them for the daemon, schedule and sweep
them, read runs and their events, cancel and delete runs, manage stored outputs, migrate the
event log, benchmark the engine, serve the web UI."""

from __future__ import annotations

import click

from solidflow.cli.common import print_warnings
from solidflow.cli.lazy import LazyGroup

_COMMANDS = {
    "run": "solidflow.cli.run_commands:run",
    "launch": "solidflow.cli.queue_commands:launch",
    "daemon": "solidflow.cli.queue_commands:daemon",
    "schedule": "solidflow.cli.schedule_commands:schedule",
    "sweep": "solidflow.cli.queue_commands:sweep",
    "reexecute": "solidflow.cli.run_commands:reexecute",
    "plan": "solidflow.cli.run_commands:plan",
    "explain": "solidflow.cli.memo_commands:explain",
    "config-schema": "solidflow.cli.run_commands:config_schema_command",
    "runs": "solidflow.cli.inspect_commands:runs",
    "logs": "solidflow.cli.inspect_commands:logs",
    "cancel": "solidflow.cli.inspect_commands:cancel",
    "recover": "solidflow.cli.inspect_commands:recover",
    "store": "solidflow.cli.store_commands:store",
    "instance": "solidflow.cli.instance_commands:instance",
    "gc": "solidflow.cli.retention_commands:gc",
    "bench": "solidflow.cli.bench_commands:bench",
    "ui": "solidflow.cli.ui_command:ui",
}
"""Each command by name, imported when it runs (a command starts without the others)."""


@click.group(cls=LazyGroup, lazy_commands=_COMMANDS)
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
