"""The `solidflow` command: run pipelines, read runs and their events, show plans and schemas."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from solidflow.cli.config_files import load_run_config, parse_tags
from solidflow.cli.display import RunProgress, event_line
from solidflow.cli.loading import load_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.execute import config_schema, execute_pipeline, prepare_run
from solidflow.engine.instance import Instance
from solidflow.engine.runs import RunRecord, RunStatus
from solidflow.errors import SolidflowError

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELED = 130

_err = Console(stderr=True, highlight=False)


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a user mistake as one message (no traceback) and exit with code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SolidflowError as error:
            _err.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
            sys.exit(EXIT_USAGE)

    return wrapper


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


def _instance(ctx: click.Context) -> Instance:
    return Instance(ctx.obj)


_config_option = click.option(
    "-c",
    "--config",
    "configs",
    multiple=True,
    type=click.Path(),
    help="run_config YAML file; several merge in order.",
)
_mode_option = click.option(
    "--mode", default=None, help="The pipeline mode (default: its first mode)."
)
_select_option = click.option(
    "--select", "selection", default=None, help="Solid selection, e.g. '*load+,report'."
)


@main.command()
@click.argument("target")
@_config_option
@_mode_option
@_select_option
@click.option("--executor", default=None, help="in_process (default from solidflow.yaml).")
@click.option("--tag", "tags", multiple=True, help="key=value tag recorded with the run.")
@click.pass_context
@_user_errors
def run(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    mode: str | None,
    selection: str | None,
    executor: str | None,
    tags: tuple[str, ...],
) -> None:
    """Run the pipeline TARGET ("file.py:name" or "package.module:name")."""
    pipeline, loadable_target = load_pipeline(target)
    run_config = load_run_config(configs)
    instance = _instance(ctx)
    console = Console(highlight=False)
    progress = RunProgress(total=0)
    try:
        with progress:
            result = execute_pipeline(
                pipeline,
                run_config=run_config,
                mode=mode,
                solid_selection=selection,
                executor=executor,
                instance=instance,
                tags=parse_tags(tags),
                target=loadable_target,
                on_event=_counting(progress),
            )
    except KeyboardInterrupt:
        _err.print("run canceled")
        sys.exit(EXIT_CANCELED)
    for event in result.events:
        if event.type is EventType.STEP_FAILURE and event.payload.get("traceback"):
            console.print(f"\n[bold red]{event.step}[/] failed:", markup=True)
            console.print(event.payload["traceback"].rstrip(), markup=False)
    end = result.events[-1]
    style = "green" if result.success else "red"
    console.print(
        f"run {result.run_id} [bold {style}]{result.status.value}[/]: {end.message}", markup=True
    )
    sys.exit(0 if result.success else EXIT_RUN_FAILED)


def _counting(progress: RunProgress) -> Callable[[Any], None]:
    def listener(event: Any) -> None:
        if event.type is EventType.RUN_START:
            progress.total = len(event.payload.get("steps", []))
        progress(event)

    return listener


def _find_run(instance: Instance, run_id: str) -> RunRecord:
    if run_id == "latest":
        newest = instance.runs(limit=1)
        if not newest:
            raise click.UsageError(f"there are no runs in {instance.home}")
        return newest[0]
    found = instance.get_run(run_id)
    if found is not None:
        return found
    matches = [r for r in instance.runs() if r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise click.UsageError(
            f"run id prefix '{run_id}' matches {len(matches)} runs; give more of it"
        )
    raise click.UsageError(f"no run with id '{run_id}' in {instance.home}")


@main.command()
@click.option("--status", type=click.Choice([s.value for s in RunStatus]), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
@_user_errors
def runs(ctx: click.Context, status: str | None, limit: int) -> None:
    """List recent runs, newest first."""
    records = _instance(ctx).runs(status=RunStatus(status) if status else None, limit=limit)
    table = Table("run id", "pipeline", "status", "started", "duration", "tags")
    for column in table.columns[:5]:
        column.no_wrap = True
    for record in records:
        duration = f"{record.end_time - record.start_time:.2f}s" if record.end_time else "-"
        started = _format_time(record.start_time)
        tags = " ".join(f"{k}={v}" for k, v in record.tags.items())
        table.add_row(
            record.run_id, record.pipeline_name, record.status.value, started, duration, tags
        )
    _wide_console().print(table)


def _wide_console() -> Console:
    """A console that does not fold long lines when output goes to a file or pipe."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


def _format_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@main.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_context
@_user_errors
def logs(ctx: click.Context, run_id: str, follow: bool, as_json: bool) -> None:
    """Print the events of run RUN_ID (a unique prefix is enough; "latest" is the newest run)."""
    instance = _instance(ctx)
    record = _find_run(instance, run_id)
    events = instance.watch(record.run_id) if follow else instance.events(record.run_id)
    console = _wide_console()
    for event in events:
        if as_json:
            click.echo(json.dumps(event.to_dict(), default=str))
        else:
            console.print(event_line(event))


@main.command()
@click.argument("target")
@_config_option
@_mode_option
@_select_option
@click.pass_context
@_user_errors
def plan(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    mode: str | None,
    selection: str | None,
) -> None:
    """Print the execution plan of TARGET: steps in order and where their inputs come from."""
    pipeline, _ = load_pipeline(target)
    prepared = prepare_run(
        pipeline, load_run_config(configs), mode, selection, None, _instance(ctx)
    )
    console = Console(highlight=False)
    console.print(
        f"pipeline [bold]{pipeline.name}[/], mode {prepared.mode.name}, {len(prepared.plan.steps)} steps",
        markup=True,
    )
    for index, step in enumerate(prepared.plan.steps.values(), start=1):
        inputs = ", ".join(f"{name} <- {source}" for name, source in step.describe_inputs().items())
        console.print(
            f"{index:>4}. [bold]{step.key}[/]" + (f"  ({inputs})" if inputs else ""), markup=True
        )


@main.command("config-schema")
@click.argument("target")
@_mode_option
@_user_errors
def config_schema_command(target: str, mode: str | None) -> None:
    """Print the JSON Schema of TARGET's run_config."""
    pipeline, _ = load_pipeline(target)
    click.echo(json.dumps(config_schema(pipeline, mode=mode), indent=2))
