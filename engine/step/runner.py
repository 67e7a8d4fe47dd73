"""Run one step in the current process: type checks, the solid body, events, retries."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from solidflow.definitions.events import ExpectationResult, Materialization, Output
from solidflow.definitions.solid import SolidDefinition
from solidflow.definitions.types import DataType
from solidflow.engine.events.records import EventType, to_plain
from solidflow.engine.plan.steps import FromLoader
from solidflow.engine.step.context import Emit, Resources, SolidExecutionContext, SolidLogger
from solidflow.engine.step.error_info import ErrorInfo, error_info
from solidflow.engine.step.launchers import launcher_for
from solidflow.engine.step.outputs import StepError, as_input, store_output
from solidflow.engine.step.resources import ResourceInitError, ResourceManager
from solidflow.engine.step.task import NotProduced, StepResult, StepTask, present_inputs
from solidflow.engine.store import OutputCorrupt, StoredRef, StoreError
from solidflow.engine.store.codec_registry import describe
from solidflow.engine.store.write_behind import OutputStore, intermediate_store


def _type_check(
    data_type: DataType, value: Any, side: str, name: str, task: StepTask
) -> tuple[dict[str, Any], str | None]:
    """Type-check an input or output (`side`): the event payload, and the failure message.
    The metadata of a typed value that passed is what its codec describes (rows, columns,
    schema) and what the check reported."""
    outcome = data_type.type_check(value)
    payload: dict[str, Any] = {side: name, "type": data_type.name, "type_check": outcome.success}
    if outcome.description:
        payload["description"] = outcome.description
    metadata = outcome.metadata
    if outcome.success and data_type.python_types:
        described = describe(value)
        metadata = {**described, **metadata} if described else metadata
    if metadata:
        payload["metadata"] = to_plain(dict(metadata))
    if outcome.success:
        return payload, None
    return payload, (
        f"solid '{task.step_key}' {side} '{name}': expected {data_type.name}, "
        f"type check failed: {outcome.description}"
    )


def _collect_outputs(
    solid: SolidDefinition, returned: Any, task: StepTask, emit: Emit
) -> dict[str, Output]:
    """The outputs the body produced (returned or yielded): every required output, and the
    optional outputs it chose to produce."""
    outputs: dict[str, Output] = {}
    names = solid.output_names

    def accept(item: Any) -> None:
        if isinstance(item, Output):
            if item.name not in names:
                raise StepError(
                    f"solid '{task.step_key}' produced output '{item.name}', which it does not "
                    f"declare (declared: {', '.join(names)})",
                    "output",
                )
            if item.name in outputs:
                raise StepError(
                    f"solid '{task.step_key}' produced output '{item.name}' twice", "output"
                )
            outputs[item.name] = item
        elif isinstance(item, Materialization):
            emit(
                EventType.MATERIALIZATION,
                task.step_key,
                {
                    "asset_key": item.asset_key,
                    "description": item.description,
                    "metadata": to_plain(dict(item.metadata)),
                },
            )
        elif isinstance(item, ExpectationResult):
            emit(
                EventType.EXPECTATION,
                task.step_key,
                {
                    "label": item.label,
                    "success": item.success,
                    "description": item.description,
                    "metadata": to_plain(dict(item.metadata)),
                },
            )
        else:
            raise StepError(
                f"solid '{task.step_key}' yielded {type(item).__name__}; a solid body may yield "
                "Output, Materialization or ExpectationResult",
                "output",
            )

    if solid.yields_events:
        for item in returned:
            accept(item)
    elif isinstance(returned, Output):
        accept(returned)
    elif len(names) == 1:
        outputs[names[0]] = Output(returned, names[0])
    else:
        if not isinstance(returned, tuple) or len(returned) != len(names):
            raise StepError(
                f"solid '{task.step_key}' declares outputs {', '.join(names)} and must return a "
                f"tuple of {len(names)} values (or yield Output(value, name)), it returned "
                f"{type(returned).__name__}",
                "output",
            )
        for name, value in zip(names, returned, strict=True):
            accept(value if isinstance(value, Output) else Output(value, name))
    missing = [o.name for o in solid.outputs if o.is_required and o.name not in outputs]
    if missing:
        raise StepError(f"solid '{task.step_key}' did not produce output '{missing[0]}'", "output")
    return outputs


def _loaded(data_type: DataType, config: Any, context: SolidExecutionContext, where: str) -> Any:
    """The value the loader of `data_type` builds from its config."""
    loader = data_type.loader
    assert loader is not None  # the plan makes FromLoader inputs only for types with a loader
    try:
        return loader.fn(context, config)
    except Exception as exc:
        info = error_info(exc)
        message = (
            f"{where}: the loader of {data_type.name} raised {info.error_class}: {info.message}"
        )
        raise StepError(message, "input", info, exc) from None


def _not_produced(task: StepTask, name: str, store: OutputStore | None, emit: Emit) -> NotProduced:
    """Record that the step did not produce optional output `name`: a NotProduced stored
    under the output's key (so that a memoized step's readers are skipped again)."""
    marker = NotProduced(task.step_key, name)
    payload, _ = store_output(task, name, marker, store, emit)
    message = f"optional output '{name}' was not produced"
    emit(
        EventType.STEP_OUTPUT,
        task.step_key,
        {"output": name, "produced": False, **payload, "message": message},
    )
    return marker


def _attempt(
    task: StepTask,
    input_values: Mapping[str, Any],
    step_resources: Resources,
    emit: Emit,
    retry_number: int,
    store: OutputStore | None,
) -> dict[str, Any]:
    solid = task.solid
    context = SolidExecutionContext(
        run_id=task.run_id,
        pipeline_name=task.pipeline_name,
        solid_name=task.step_key,
        config=task.config,
        resources=step_resources,
        log=SolidLogger(emit, task.step_key),
        retry_number=retry_number,
    )
    kwargs = {}
    for name, value in input_values.items():
        data_type = solid.input(name).data_type
        where = f"solid '{task.step_key}' input '{name}'"
        if isinstance(task.inputs.get(name), FromLoader):
            value = _loaded(data_type, value, context, where)
        kwargs[name] = value = as_input(value, data_type, step_resources, where)
        payload, failure = _type_check(data_type, value, "input", name, task)
        emit(EventType.STEP_INPUT, task.step_key, payload)
        if failure:
            raise StepError(failure, "type_check")
    if solid.takes_config:
        kwargs["config"] = task.config
    returned = solid.fn(context, **kwargs) if solid.takes_context else solid.fn(**kwargs)
    produced = _collect_outputs(solid, returned, task, emit)
    outputs: dict[str, Any] = {}
    for output in solid.outputs:
        if output.name not in produced:
            outputs[output.name] = _not_produced(task, output.name, store, emit)
            continue
        value = outputs[output.name] = produced[output.name].value
        payload, failure = _type_check(output.data_type, value, "output", output.name, task)
        if produced[output.name].metadata:
            payload["output_metadata"] = to_plain(dict(produced[output.name].metadata))
        if failure is None:
            stored, outputs[output.name] = store_output(task, output.name, value, store, emit)
            payload.update(stored)
        emit(EventType.STEP_OUTPUT, task.step_key, payload)
        if failure:
            raise StepError(failure, "type_check")
    return outputs


def _unavailable(task: StepTask, name: str, error: StoreError) -> str:
    """What a step whose input `name` could not be loaded from the store fails with."""
    upstream = [
        f"output '{output}' of step '{step}'"
        for (step, output), handle in task.handles.items()
        if isinstance(handle, StoredRef) and handle.key == error.key
    ]
    state = "corrupt" if isinstance(error, OutputCorrupt) else "missing"
    return (
        f"solid '{task.step_key}' input '{name}': the stored {' and '.join(upstream) or 'output'}"
        f" (key {error.key}) is {state} ({error.reason}); run the pipeline again to recompute it"
    )


def _load_inputs(task: StepTask, load: Callable[[Any], Any]) -> dict[str, Any]:
    """Each input's value, loaded with `load`; a stored output that is gone or damaged is a
    StepError naming the input and the key."""
    values = {}
    for name in task.inputs:
        try:
            values[name] = task.input_value(name, load)
        except StoreError as error:
            raise StepError(_unavailable(task, name, error), "input") from None
    return values


def run_step(
    task: StepTask,
    load: Callable[[Any], Any],
    resources: ResourceManager,
    emit: Emit,
    store: OutputStore | None = None,
    *,
    retry_number: int = 0,
) -> StepResult:
    """Load the step's inputs (`load` turns a handle into its value), run the step's solid
    with retries per its RetryPolicy and store its outputs under their keys, in this process
    or through the step launcher its definition chooses (see engine.step.launchers); never
    raises for step failures. An input that cannot be loaded from the store fails the step.
    `retry_number` counts the attempts made before this call (in processes that died), which
    count against the RetryPolicy (a launcher runs the step anew).

    A step an input of which is an output that was not produced is skipped (nothing runs and
    nothing is emitted; the result says which outputs were missing)."""
    try:
        input_values = _load_inputs(task, load)
    except StepError as failure:
        emit(EventType.STEP_START, task.step_key, {"attempt": 1, "pid": os.getpid()})
        return _failed(task, emit, str(failure), failure.kind, None, None)
    values, missing = present_inputs(task.inputs, input_values)
    if missing:
        addresses = tuple(dict.fromkeys(item.address for item in missing))
        return StepResult(step_key=task.step_key, success=False, missing_inputs=addresses)
    launcher = launcher_for(task.solid)
    if launcher is not None:
        return launcher.launch(task, values, resources, emit, intermediate_store(store))
    return run_step_here(task, values, resources, emit, store, retry_number=retry_number)


def run_step_here(
    task: StepTask,
    input_values: Mapping[str, Any],
    resources: ResourceManager,
    emit: Emit,
    store: OutputStore | None = None,
    *,
    retry_number: int = 0,
) -> StepResult:
    """`run_step` in this process, whatever launcher the solid's definition chooses: what
    executors and step launchers run where the step's body runs. The step's resources are
    built first: when one fails to initialise, the step does not start (the result names the
    resource)."""
    try:
        step_resources = resources.resources_for(
            task.solid.required_resource_keys, f"solid '{task.step_key}'"
        )
    except ResourceInitError as failure:
        return StepResult(
            step_key=task.step_key,
            success=False,
            error=failure.info,
            message=str(failure),
            exception=failure.__cause__,
            resource_failure=failure.key,
        )
    policy = task.solid.retry
    while True:
        started = time.perf_counter()
        emit(EventType.STEP_START, task.step_key, {"attempt": retry_number + 1, "pid": os.getpid()})
        try:
            outputs = _attempt(task, input_values, step_resources, emit, retry_number, store)
        except StepError as failure:
            return _failed(task, emit, str(failure), failure.kind, failure.info, failure.exception)
        except KeyboardInterrupt:
            _failed(
                task, emit, f"solid '{task.step_key}' was interrupted", "interrupted", None, None
            )
            raise
        except (Exception, SystemExit) as exc:  # sys.exit() in a solid fails only its step
            info = error_info(exc)
            if policy is not None and retry_number < policy.max_retries:
                retry_number += 1
                delay = policy.delay_before(retry_number)
                emit(
                    EventType.STEP_RETRY,
                    task.step_key,
                    {
                        "attempt": retry_number + 1,
                        "max_attempts": policy.max_retries + 1,
                        "delay": delay,
                        "message": f"{info.error_class}: {info.message}",
                    },
                )
                time.sleep(delay)
                continue
            message = f"solid '{task.step_key}' raised {info.error_class}: {info.message}"
            return _failed(task, emit, message, "user_code", info, exc)
        success: dict[str, Any] = {"duration_ms": round((time.perf_counter() - started) * 1000, 3)}
        if task.lineage is not None:
            success.update(memo_key=task.memo_key, lineage=task.lineage)
        emit(EventType.STEP_SUCCESS, task.step_key, success)
        return StepResult(step_key=task.step_key, success=True, outputs=outputs)


def _failed(
    task: StepTask,
    emit: Emit,
    message: str,
    kind: str,
    info: ErrorInfo | None,
    exception: BaseException | None,
) -> StepResult:
    payload: dict[str, Any] = info.as_dict() if info is not None else {}
    payload.update(message=message, kind=kind)  # the step's message, not the bare exception's
    emit(EventType.STEP_FAILURE, task.step_key, payload)
    return StepResult(
        step_key=task.step_key, success=False, error=info, message=message, exception=exception
    )
