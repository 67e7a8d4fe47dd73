"""execute_pipeline: validate, plan, record and drive one run."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import Config
from solidflow.definitions.mode import Mode
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord, EventType, to_plain
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors import EXECUTORS, Executor, RunSpec
from solidflow.engine.instance import Instance
from solidflow.engine.plan import ExecutionPlan, build_plan
from solidflow.engine.resource_manager import ResourceSpec
from solidflow.engine.results import PipelineRunResult
from solidflow.engine.run_config import ResolvedRunConfig, run_config_model, validate_run_config
from solidflow.engine.runs import RunRecord, RunStatus, current_process_token
from solidflow.engine.scheduler import Scheduler, SchedulerState, StepStatus
from solidflow.engine.selection import select_steps
from solidflow.errors import ConfigError, DefinitionError, SelectionError, StepFailure

Selection = str | Sequence[str] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """A run that passed validation: its mode, plan, config and executor."""

    mode: Mode
    plan: ExecutionPlan
    config: ResolvedRunConfig
    executor: type[Executor]


def _mode(pipeline: PipelineDefinition, name: str | None) -> Mode:
    try:
        return pipeline.mode(name)
    except KeyError:
        raise ConfigError(
            [
                (
                    "mode",
                    f"unknown mode '{name}'; pipeline '{pipeline.name}' has modes: "
                    + ", ".join(pipeline.mode_names),
                )
            ]
        ) from None


def _executor_schemas() -> dict[str, type[Config]]:
    return {name: cls.config_schema for name, cls in EXECUTORS.items()}


def _selected(pipeline: PipelineDefinition, solid_selection: Selection) -> frozenset[str]:
    if solid_selection is None:
        return frozenset(pipeline.nodes)
    return select_steps(solid_selection, pipeline.upstream())


def _executor_name(
    executor: str | None, run_config: Mapping[str, Any] | None, instance: Instance
) -> str:
    execution = run_config.get("execution") if isinstance(run_config, Mapping) else None
    if executor is None and isinstance(execution, Mapping) and len(execution) == 1:
        executor = next(iter(execution))
    name = executor or instance.config.default_executor
    if name not in EXECUTORS:
        raise ConfigError(
            [("execution", f"unknown executor '{name}'; available: {', '.join(EXECUTORS)}")]
        )
    return name


def prepare_run(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None,
    mode: str | None,
    solid_selection: Selection,
    executor: str | None,
    instance: Instance,
) -> PreparedRun:
    """Validate everything about a run before it starts; raises ConfigError or SelectionError."""
    if not isinstance(pipeline, PipelineDefinition):
        raise DefinitionError(f"expected a pipeline defined with @pipeline, got {pipeline!r}")
    chosen_mode = _mode(pipeline, mode)
    selected = _selected(pipeline, solid_selection)
    executor_name = _executor_name(executor, run_config, instance)
    resolved = validate_run_config(run_config, pipeline, chosen_mode, selected, _executor_schemas())
    plan = build_plan(pipeline, chosen_mode.name, resolved, selected)
    return PreparedRun(
        mode=chosen_mode, plan=plan, config=resolved, executor=EXECUTORS[executor_name]
    )


def pipeline_target(pipeline: PipelineDefinition) -> str | None:
    """'module:name' (or 'file.py:name' for scripts) from which the pipeline can be loaded."""
    fn = pipeline.fn
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    if module is None or getattr(module, fn.__name__, None) is not pipeline:
        return None
    if module.__name__ == "__main__":
        path = getattr(module, "__file__", None)
        return f"{path}:{fn.__name__}" if path else None
    return f"{module.__name__}:{fn.__name__}"


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
    if failed:
        message = f"{len(failed)} of {total} steps failed: {', '.join(failed)}"
        if skipped:
            message += f"; {len(skipped)} skipped"
        return RunStatus.FAILURE, message
    if teardown_failures:
        return RunStatus.FAILURE, "; ".join(teardown_failures)
    return RunStatus.SUCCESS, f"{total} steps succeeded"


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
    target: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
) -> PipelineRunResult:
    """Run a pipeline and record it in the instance's event log.

    `executor` defaults to the one named in run_config's `execution` section, else the
    instance's default. `target` records how to load the pipeline again (derived from the
    pipeline's module when omitted); `on_event` is called with every event as it happens.
    Raises ConfigError or SelectionError (after recording the run as failed) before any
    step runs, and StepFailure when a step fails and `raise_on_error` is set.
    """
    instance = instance if instance is not None else Instance()
    run_id = uuid.uuid4().hex
    is_pipeline = isinstance(pipeline, PipelineDefinition)
    run_tags = {str(key): str(value) for key, value in (tags or {}).items()}
    sink = EventSink(run_id, instance.storage, listeners=[on_event] if on_event else ())
    instance.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name=getattr(pipeline, "name", "?"),
            status=RunStatus.STARTED,
            start_time=time.time(),
            end_time=None,
            tags=run_tags,
            mode=mode or (pipeline.modes[0].name if is_pipeline else ""),
            target=target or (pipeline_target(pipeline) if is_pipeline else None),
            run_config=to_plain(dict(run_config)) if isinstance(run_config, Mapping) else {},
            parent_run_id=None,
            root_run_id=None,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            process_start=current_process_token(),
        )
    )
    run = _Run(instance, sink, run_id)
    try:
        prepared = prepare_run(pipeline, run_config, mode, solid_selection, executor, instance)
    except (ConfigError, SelectionError, DefinitionError) as error:
        error.run_id = run_id  # type: ignore[attr-defined]
        run.end(RunStatus.FAILURE, str(error))
        raise
    return _drive(run, pipeline, prepared, run_tags, raise_on_error)


def _drive(
    run: _Run,
    pipeline: PipelineDefinition,
    prepared: PreparedRun,
    tags: Mapping[str, str],
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
        },
    )
    executor = prepared.executor()
    specs = {
        key: ResourceSpec(definition=definition, config=prepared.config.resource_configs.get(key))
        for key, definition in prepared.mode.resource_definitions().items()
        if key in plan.resource_keys
    }
    config = prepared.executor.config_schema.model_validate(
        prepared.config.execution.get(prepared.executor.name, {})
    )
    executor.init(
        RunSpec(run_id=run.run_id, pipeline_name=pipeline.name, resources=specs, config=config),
        run.sink,
    )
    scheduler = Scheduler(plan, executor, run.sink, run.run_id)
    try:
        state = scheduler.run()
    except KeyboardInterrupt:
        executor.finalize()
        run.end(RunStatus.CANCELED, "run canceled by the user")
        raise
    except BaseException as error:
        executor.finalize()
        run.end(RunStatus.FAILURE, f"engine error: {type(error).__name__}: {error}")
        raise
    teardown_failures = executor.finalize()
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


def _raise_failure(run_id: str, state: SchedulerState, message: str) -> None:
    for key in state.keys_with(StepStatus.FAILED):
        step_result = state.results[key]
        raise StepFailure(
            step_result.message or message, step=key, run_id=run_id, original=step_result.exception
        ) from step_result.exception
    raise StepFailure(message, step=None, run_id=run_id, original=None)


def config_schema(
    pipeline: PipelineDefinition, mode: str | None = None, solid_selection: Selection = None
) -> dict[str, Any]:
    """The JSON Schema of the pipeline's whole run_config (for `mode` and the selection)."""
    chosen_mode = _mode(pipeline, mode)
    selected = _selected(pipeline, solid_selection)
    model, _ = run_config_model(pipeline, chosen_mode, selected, _executor_schemas())
    return model.model_json_schema(by_alias=True)
