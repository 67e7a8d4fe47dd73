"""Commands that run pipelines or show what a run would do: run, reexecute, plan, config-schema."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from solidflow.cli.common import (
    EXIT_CANCELED,
    EXIT_RUN_FAILED,
    address_option,
    config_option,
    err_console,
    executor_option,
    instance_of,
    memoize_option,
    mode_option,
    select_option,
    tag_option,
    user_errors,
)
from solidflow.cli.config_files import deep_merge, load_run_config
from solidflow.cli.display import RunProgress
from solidflow.engine import (
    EventRecord,
    EventType,
    PipelinePlan,
    PipelineRunResult,
    RunStatus,
    config_schema,
    execute_pipeline,
    find_run,
    load_pipeline,
    plan_pipeline,
    reexecute_pipeline,
    terminate_as_interrupt,
)
from solidflow.errors import ConfigError


def _with_progress(start: Callable[[Callable[[EventRecord], None]], PipelineRunResult]) -> None:
    """Run with live progress, print failures and the outcome, exit with the run's code.
    SIGTERM cancels the run as Ctrl-C does."""
    signal.signal(signal.SIGTERM, terminate_as_interrupt)
    progress = RunProgress(total=0)

    def listener(event: EventRecord) -> None:
        if event.type is EventType.RUN_START:
            progress.total = len(event.payload.get("steps", []))
        progress(event)

    try:
        with progress:
            result = start(listener)
    except KeyboardInterrupt:
        err_console.print("run canceled")
        sys.exit(EXIT_CANCELED)
    console = Console(highlight=False, soft_wrap=True)
    for event in result.events:
        if event.type is EventType.STEP_FAILURE and event.payload.get("traceback"):
            console.print(f"\n[bold red]{event.step}[/] failed:", markup=True)
            console.print(event.payload["traceback"].rstrip(), markup=False)
    style = "green" if result.success else "red"
    console.print(
        f"run {result.run_id} [bold {style}]{result.status.value}[/]: {result.events[-1].message}",
        markup=True,
    )
    sys.exit(_EXIT_CODES[result.status])


_EXIT_CODES = {
    RunStatus.SUCCESS: 0,
    RunStatus.FAILURE: EXIT_RUN_FAILED,
    RunStatus.CANCELED: EXIT_CANCELED,
}


def _with_address(
    run_config: dict[str, Any], executor: str | None, address: str | None
) -> tuple[dict[str, Any], str | None]:
    """--address joins a Ray cluster: it sets the address of the Ray executor chosen (`ray`
    unless another is given) and picks it."""
    if address is None:
        return run_config, executor
    chosen = executor or "ray"
    return deep_merge(run_config, {"execution": {chosen: {"address": address}}}), chosen


@click.command()
@click.argument("target")
@config_option
@mode_option
@select_option
@executor_option
@address_option
@tag_option
@memoize_option
@click.pass_context
@user_errors
def run(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    mode: str | None,
    selection: str | None,
    executor: str | None,
    address: str | None,
    tags: dict[str, str],
    memoize: bool | None,
) -> None:
    """Run the pipeline TARGET ("file.py:name" or "package.module:name")."""
    pipeline, loadable_target = load_pipeline(target)
    run_config, executor = _with_address(load_run_config(configs), executor, address)
    instance = instance_of(ctx)
    _with_progress(
        lambda listener: execute_pipeline(
            pipeline,
            run_config=run_config,
            mode=mode,
            solid_selection=selection,
            executor=executor,
            instance=instance,
            tags=tags,
            memoize=memoize,
            target=loadable_target,
            on_event=listener,
        )
    )


@click.command()
@click.argument("run_id")
@select_option
@click.option(
    "--from-failure",
    is_flag=True,
    help="Run the steps that did not succeed, and their descendants.",
)
@config_option
@executor_option
@address_option
@tag_option
@memoize_option
@click.pass_context
@user_errors
def reexecute(
    ctx: click.Context,
    run_id: str,
    selection: str | None,
    from_failure: bool,
    configs: tuple[str, ...],
    executor: str | None,
    address: str | None,
    tags: dict[str, str],
    memoize: bool | None,
) -> None:
    """Run steps of run RUN_ID again; the other steps' outputs come from the store.

    The pipeline is loaded again from where the run found it, so code fixes apply. Without
    -c the run's own config is used.
    """
    instance = instance_of(ctx)
    parent = find_run(instance, run_id)
    run_config = load_run_config(configs) if configs else None
    if address is not None:
        run_config, executor = _with_address(
            run_config if run_config is not None else dict(parent.run_config), executor, address
        )
    _with_progress(
        lambda listener: reexecute_pipeline(
            parent.run_id,
            solid_selection=selection,
            from_failure=from_failure,
            run_config=run_config,
            executor=executor,
            instance=instance,
            tags=tags,
            memoize=memoize,
            on_event=listener,
        )
    )


@click.command()
@click.argument("target")
@config_option
@mode_option
@select_option
@click.option(
    "--memoize",
    is_flag=True,
    help="Say which steps a memoized run would take from the store, and why the others run "
    "(this needs a valid run_config).",
)
@click.pass_context
@user_errors
def plan(
    ctx: click.Context,
    target: str,
    configs: tuple[str, ...],
    mode: str | None,
    selection: str | None,
    memoize: bool,
) -> None:
    """Print the execution plan of TARGET: steps in order and where their inputs come from.

    The structure needs no config. Problems of the config given with -c (or, with --memoize,
    of the config the run would have) are reported after the plan.
    """
    pipeline, _ = load_pipeline(target)
    planned = plan_pipeline(
        pipeline,
        load_run_config(configs),
        mode,
        selection,
        memoize=memoize,
        instance=instance_of(ctx) if memoize else None,
    )
    _print_plan(planned)
    for message in planned.warnings:
        err_console.print(f"[yellow]warning:[/] {message}", markup=True)
    if planned.config_errors and (configs or memoize):
        if memoize:
            err_console.print("memo status needs a valid run_config; give it with -c")
        raise ConfigError(planned.config_errors)


def _print_plan(planned: PipelinePlan) -> None:
    console = Console(highlight=False, soft_wrap=True)
    header = Text("pipeline ")
    header.append(planned.pipeline, style="bold")
    header.append(f", mode {planned.mode}, {len(planned.steps)} steps")
    console.print(header)
    for index, step in enumerate(planned.steps, start=1):
        line = Text(f"{index:>4}. ")
        line.append(step.key, style="bold")
        if step.inputs:
            sources = ", ".join(f"{each.name} <- {each.text}" for each in step.inputs)
            line.append(f"  ({sources})")
        if step.memo is not None:
            line.append(f"  {step.memo.reason}", style="green" if step.memo.memoized else "yellow")
        console.print(line)


@click.command("config-schema")
@click.argument("target")
@mode_option
@user_errors
def config_schema_command(target: str, mode: str | None) -> None:
    """Print the JSON Schema of TARGET's run_config."""
    pipeline, _ = load_pipeline(target)
    click.echo(json.dumps(config_schema(pipeline, mode=mode), indent=2))
