"""execute_pipeline: validate, plan, record and drive one run."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord, EventType, to_plain
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors import Executor, RunSpec
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus, current_process_token
from solidflow.engine.memo.memoization import (
    MemoKeys,
    Warn,
    assess_outputs,
    memoized_steps,
    plan_keys,
    steps_without_outputs,
)
from solidflow.engine.run.prepare import (
    PreparedRun,
    Selection,
    pipeline_target,
    prepare_run,
    require_pipeline,
    store_location,
)
from solidflow.engine.run.results import PipelineRunResult
from solidflow.engine.run.scheduler import Scheduler, SchedulerState, StepStatus
from solidflow.engine.step.resources import ResourceSpec
from solidflow.engine.store import IntermediateStore, is_local_root
from solidflow.engine.store.records import Assessment
from solidflow.errors import ConfigError, DefinitionError, SelectionError, StepFailure


class _Run:
    """The bookkeeping of one run: its record, its events, its end."""

    def __init__(self, instance: Instance, sink: EventSink, run_id: str) -> None:
        self.instance = instance
        self.sink = sink
        self.run_id = run_id

    def end(self, status: RunStatus, message: str, **payload: Any) -> None:
        event = {
            RunStatus.SUCCESS: EventType.RUN_SUCCESS,
            RunStatus.FAILURE: EventType.RUN_FAILURE,
            RunStatus.CANCELED: EventType.RUN_CANCELED,
        }[status]
        self.sink.emit(event, None, {"message": message, **payload})
        self.sink.close()
        self.instance.set_run_status(self.run_id, status, end_time=time.time())


def _outcome(state: SchedulerState, teardown_failures: list[str]) -> tuple[RunStatus, str]:
    failed = state.keys_with(StepStatus.FAILED)
    skipped = state.keys_with(StepStatus.SKIPPED)
    total = len(state.status)
    if state.run_failure is not None:
        return RunStatus.FAILURE, state.run_failure
    if failed:
        message = f"{len(failed)} of {total} steps failed: {', '.join(failed)}"
        if skipped:
            message += f"; {len(skipped)} skipped"
        return RunStatus.FAILURE, message
    if teardown_failures:
        return RunStatus.FAILURE, "; ".join(teardown_failures)
    memoized = len(state.keys_with(StepStatus.MEMOIZED))
    succeeded = total - memoized - len(skipped)
    message = f"{succeeded} steps succeeded"
    if memoized:
        message += f", {memoized} memoized"
    if skipped:  # below optional outputs that were not produced
        message += f", {len(skipped)} skipped"
    return RunStatus.SUCCESS, message


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOrigin:
    """Where a re-execution comes from: its parent run and that run's stored outputs."""

    parent_run_id: str
    root_run_id: str
    external: Mapping[tuple[str, str], str]


def execute_pipeline(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None = None,
    mode: str | None = None,
    solid_selection: Selection = None,
    executor: str | None = None,
    instance: Instance | None = None,
    raise_on_error: bool = False,
    tags: Mapping[str, str] | None = None,
    *,
    memoize: bool | None = None,
    target: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
) -> PipelineRunResult:
    """Run a pipeline and record it in the instance's event log.

    Every step output is stored under its key. With `memoize` (default: the instance's
    `memoize` setting) a step whose outputs are all stored is not run (STEP_MEMOIZED).
    `executor` defaults to the one named in run_config's `execution` section, else the
    instance's default. `target` records how to load the pipeline again (derived from the
    pipeline's module when omitted); `on_event` is called with every event as it happens.
    Raises ConfigError or SelectionError (after recording the run as failed) before any
    step runs, and StepFailure when a step fails and `raise_on_error` is set.
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
    executor: str | None,
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
    require_pipeline(pipeline)
    run_id = uuid.uuid4().hex
    run_tags = {str(key): str(value) for key, value in {**pipeline.tags, **(tags or {})}.items()}
    sink = EventSink(run_id, instance.storage, listeners=[on_event] if on_event else ())
    instance.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name=pipeline.name,
            status=RunStatus.STARTED,
            start_time=time.time(),
            end_time=None,
            tags=run_tags,
            mode=mode or getattr(pipeline.default_mode, "name", ""),
            target=target or pipeline_target(pipeline),
            run_config=to_plain(dict(run_config)) if isinstance(run_config, Mapping) else {},
            parent_run_id=origin.parent_run_id if origin else None,
            root_run_id=origin.root_run_id if origin else None,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            process_start=current_process_token(),
        )
    )
    run = _Run(instance, sink, run_id)
    try:
        prepared = prepare_run(
            pipeline,
            run_config,
            mode,
            solid_selection,
            executor,
            instance,
            origin.external if origin else None,
        )
    except (ConfigError, SelectionError, DefinitionError) as error:
        error.run_id = run_id  # type: ignore[attr-defined]
        run.end(RunStatus.FAILURE, str(error))
        raise
    should_memoize = instance.config.memoize if memoize is None else memoize
    return _drive(run, pipeline, prepared, run_tags, should_memoize, raise_on_error)


def _memoized_payloads(
    keys: Mapping[str, MemoKeys], memoized: set[str], found: Mapping[str, Assessment]
) -> dict[str, dict[str, Any]]:
    payloads: dict[str, dict[str, Any]] = {}
    for step in (key for key in keys if key in memoized):
        memo_keys = keys[step]
        first = found[next(iter(memo_keys.output_keys.values()))].present
        source_run = first.run_id if first is not None else None
        payloads[step] = {
            "message": f"outputs already stored by run {source_run}",
            "source_run": source_run,
            "output_keys": dict(memo_keys.output_keys),
            "memo_key": memo_keys.memo_key,
            "lineage": memo_keys.lineage,
        }
    return payloads


def _outputs_before_the_run(
    keys: Mapping[str, MemoKeys], store: IntermediateStore, memoize: bool, warn: Warn
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """With `memoize`, the STEP_MEMOIZED payloads of the steps that need not run; and the
    steps none of whose outputs are stored, whose puts need not look first (known only of a
    store whose writes are guarded, where looking up every key is cheap)."""
    if memoize:
        found = assess_outputs(keys, store)
        payloads = _memoized_payloads(keys, memoized_steps(keys, found, warn), found)
        stored = {key for key, assessment in found.items() if assessment.present}
    else:
        payloads = {}
        output_keys = [key for step in keys.values() for key in step.output_keys.values()]
        stored = store.committed(output_keys) if store.writes_guarded else set()
    missing = steps_without_outputs(keys, stored) if store.writes_guarded else set()
    return payloads, missing


def _drive(
    run: _Run,
    pipeline: PipelineDefinition,
    prepared: PreparedRun,
    tags: Mapping[str, str],
    memoize: bool,
    raise_on_error: bool,
) -> PipelineRunResult:
    plan = prepared.plan
    run.sink.emit(
        EventType.RUN_START,
        None,
        {
            "message": f"run of pipeline '{pipeline.name}' started: {len(plan.steps)} steps",
            "pipeline": pipeline.name,
            "mode": prepared.mode.name,
            "executor": prepared.executor.name,
            "steps": list(plan.steps),
            "tags": dict(tags),
            "memoize": memoize,
            "external": [[step, output, key] for (step, output), key in plan.external.items()],
        },
    )
    executor = prepared.executor()
    try:
        state, teardown_failures = _execute(run, prepared, executor, memoize)
    except KeyboardInterrupt:
        run.end(RunStatus.CANCELED, "run canceled by the user")
        raise
    except BaseException as error:
        run.end(RunStatus.FAILURE, f"engine error: {type(error).__name__}: {error}")
        raise
    status, message = _outcome(state, teardown_failures)
    run.end(status, message, failed_steps=state.keys_with(StepStatus.FAILED))
    result = PipelineRunResult(
        run_id=run.run_id,
        pipeline_name=pipeline.name,
        status=status,
        events=run.sink.events,
        state=state,
        load=executor.load,
    )
    if raise_on_error and status is RunStatus.FAILURE:
        _raise_failure(run.run_id, state, message)
    return result


def _execute(
    run: _Run, prepared: PreparedRun, executor: Executor, memoize: bool
) -> tuple[SchedulerState, list[str]]:
    """Plan keys, find memoized steps and run the rest; the executor is always finalized."""
    plan = prepared.plan

    def warn(step: str | None, message: str) -> None:
        run.sink.emit(EventType.LOG, step, {"level": "WARNING", "message": message})

    store_root, store_options = store_location(prepared, run.instance)
    keys = plan_keys(plan, warn)
    payloads: dict[str, dict[str, Any]] = {}
    missing: set[str] = set()
    if memoize or is_local_root(store_root):  # a remote store is opened only to memoize
        store = IntermediateStore(store_root, store_options)
        try:
            payloads, missing = _outputs_before_the_run(keys, store, memoize, warn)
        finally:
            store.close()
    specs = {
        key: ResourceSpec(definition=definition, config=prepared.config.resource_configs.get(key))
        for key, definition in prepared.mode.resource_definitions().items()
        if key in plan.resource_keys
    }
    config = prepared.executor.config_schema.model_validate(
        prepared.config.execution.get(prepared.executor.name, {})
    )
    spec = RunSpec(
        run_id=run.run_id,
        pipeline_name=plan.pipeline_name,
        resources=specs,
        config=config,
        store_root=store_root,
        store_options=store_options,
    )
    executor.init(spec, run.sink)
    try:
        state = Scheduler(plan, executor, run.sink, run.run_id, keys, payloads, missing).run()
    finally:
        teardown_failures = executor.finalize()
    return state, teardown_failures


def _raise_failure(run_id: str, state: SchedulerState, message: str) -> None:
    ended = [key for key, result in state.results.items() if result.resource_failure]
    for key in state.keys_with(StepStatus.FAILED) + ended:
        step_result = state.results[key]
        raise StepFailure(
            step_result.message or message, step=key, run_id=run_id, original=step_result.exception
        ) from step_result.exception
    raise StepFailure(message, step=None, run_id=run_id, original=None)
