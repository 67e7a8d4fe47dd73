"""execute_pipeline: request a run and drive it in this process (create_run + launch_run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord
from solidflow.engine.executors import Executor
from solidflow.engine.instance import Instance
from solidflow.engine.run.create import RunOrigin, request_run
from solidflow.engine.run.launch import InProcessLaunch, InProcessRunLauncher, launch_run
from solidflow.engine.run.prepare import Selection
from solidflow.engine.run.results import PipelineRunResult


def execute_pipeline(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None = None,
    mode: str | None = None,
    solid_selection: Selection = None,
    executor: str | Executor | None = None,
    instance: Instance | None = None,
    *,
    raise_on_error: bool = False,
    tags: Mapping[str, str] | None = None,
    memoize: bool | None = None,
    target: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
) -> PipelineRunResult:
    """Run a pipeline in this process and record it in the instance's event log.

    Every step output is stored under its key. With `memoize` (default: the instance's
    `memoize` setting) a step whose outputs are all stored is not run (STEP_MEMOIZED).
    `executor` is an executor's registered name, a "package.module:Class" or an Executor;
    it defaults to the one named in run_config's `execution` section, else the instance's
    default. `target` records how to load the pipeline again (derived from the pipeline's
    module when omitted); `on_event` is called with every event as it happens.

    Raises ConfigError or SelectionError (after recording the run as failed) before any step
    runs, and StepFailure when a step fails and `raise_on_error` is set. A run canceled from
    another process (`Instance.cancel_run`) returns with status CANCELED; one canceled by
    SIGINT or SIGTERM ends as CANCELED, then the signal takes its usual effect
    (KeyboardInterrupt for SIGINT).
    """
    return run_pipeline(
        pipeline,
        run_config,
        mode,
        solid_selection,
        executor,
        instance if instance is not None else Instance(),
        raise_on_error=raise_on_error,
        tags=tags,
        memoize=memoize,
        target=target,
        on_event=on_event,
        origin=None,
    )


def run_pipeline(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None,
    mode: str | None,
    solid_selection: Selection,
    executor: str | Executor | None,
    instance: Instance,
    *,
    raise_on_error: bool,
    tags: Mapping[str, str] | None,
    memoize: bool | None,
    target: str | None,
    on_event: Callable[[EventRecord], None] | None,
    origin: RunOrigin | None,
) -> PipelineRunResult:
    """execute_pipeline, and the re-execution of an earlier run when `origin` is given."""
    record, _ = request_run(
        pipeline,
        run_config,
        mode=mode,
        solid_selection=solid_selection,
        executor=executor,
        instance=instance,
        tags=tags,
        memoize=memoize,
        target=target,
        origin=origin,
    )
    launcher = InProcessRunLauncher(
        pipeline,
        executor=executor if isinstance(executor, Executor) else None,
        on_event=on_event,
        raise_on_error=raise_on_error,
    )
    launched = launch_run(record.run_id, instance=instance, launcher=launcher)
    assert isinstance(launched, InProcessLaunch)
    return launched.result
