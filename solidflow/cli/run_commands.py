"""Commands that run pipelines or show what a run would do: run, reexecute, plan, config-schema."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from solidflow.cli.common import (
    EXIT_CANCELED,
    EXIT_RUN_FAILED,
    address_option,
    config_option,
    err_console,
    executor_option,
    find_run,
    instance_of,
    memoize_option,
    mode_option,
    select_option,
    tag_option,
    user_errors,
)
from solidflow.cli.config_files import deep_merge, load_run_config, parse_tags
from solidflow.cli.display import RunProgress
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.memo.memoization import (
    assess_outputs,
    explain_plan,
    memoized_steps,
    plan_keys,
)
from solidflow.engine.run.execute import execute_pipeline
from solidflow.engine.run.monitor import terminate_as_interrupt
from solidflow.engine.run.prepare import (
    PreparedRun,
    config_schema,
    prepare_run,
    store_location,
)
from solidflow.engine.run.reexecute import reexecute_pipeline
from solidflow.engine.run.results import PipelineRunResult
from solidflow.engine.run.targets import load_pipeline


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
    console = Console(highlight=False)
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
    """--address joins a Ray cluster: it sets execution.ray.address and picks the Ray executor."""
    if address is None:
        return run_config, executor
    return deep_merge(run_config, {"execution": {"ray": {"address": address}}}), executor or "ray"


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
    tags: tuple[str, ...],
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
            tags=parse_tags(tags),
            memoize=memoize,
            target=loadable_target,
            on_event=listener,
        )
    )


@click.command()
@click.argument("run_id")
@select_option
@click.option(
    "--from-failure", is_flag=True, help="Run only the steps that failed or were skipped."
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
    tags: tuple[str, ...],
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
            tags=parse_tags(tags),
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
    "--memoize", is_flag=True, help="Say which steps would be memoized, and why others run."
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
    """Print the execution plan of TARGET: steps in order and where their inputs come from."""
    pipeline, _ = load_pipeline(target)
    instance = instance_of(ctx)
    prepared = prepare_run(pipeline, load_run_config(configs), mode, selection, None, instance)
    steps = prepared.plan.steps
    notes: dict[str, str] = {}
    if memoize:
        notes = _memo_notes(prepared, instance)
    console = Console(highlight=False)
    console.print(
        f"pipeline [bold]{pipeline.name}[/], mode {prepared.mode.name}, {len(steps)} steps",
        markup=True,
    )
    for index, step in enumerate(steps.values(), start=1):
        inputs = ", ".join(f"{name} <- {source}" for name, source in step.describe_inputs().items())
        line = f"{index:>4}. [bold]{step.key}[/]" + (f"  ({inputs})" if inputs else "")
        if step.key in notes:
            line += (
                f"  [{'green' if notes[step.key] == 'memoized' else 'yellow'}]{notes[step.key]}[/]"
            )
        console.print(line, markup=True)


def _memo_notes(prepared: PreparedRun, instance: Instance) -> dict[str, str]:
    warnings: list[str] = []
    keys = plan_keys(prepared.plan, lambda _step, message: warnings.append(message))
    store = store_location(prepared, instance).open()
    try:
        found = assess_outputs(keys, store)
    finally:
        store.close()
    memoized = memoized_steps(keys, found, lambda _step, message: warnings.append(message))

    def previous(step: str) -> Any:
        event = instance.storage.latest_step_end(prepared.plan.pipeline_name, step)
        return None if event is None else event.payload.get("lineage")

    notes = explain_plan(keys, memoized, found, previous)
    for message in dict.fromkeys(warnings):
        err_console.print(f"[yellow]warning:[/] {message}", markup=True)
    return notes


@click.command("config-schema")
@click.argument("target")
@mode_option
@user_errors
def config_schema_command(target: str, mode: str | None) -> None:
    """Print the JSON Schema of TARGET's run_config."""
    pipeline, _ = load_pipeline(target)
    click.echo(json.dumps(config_schema(pipeline, mode=mode), indent=2))
