"""What a Ray step task (the `ray_tasks` executor) carries and returns: the run's context,
shipped once per worker with each solid's step function, and plain lists per task, which Ray
serialises with msgpack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.executors.ray.events import WorkerEvent
from solidflow.engine.executors.ray.wire import decode_source, encode_source
from solidflow.engine.plan.steps import ResourceSpec, addresses_read
from solidflow.engine.step.task import StepResult, StepTask


@dataclass(frozen=True, slots=True, kw_only=True)
class RayRunContext:
    """What every worker needs about a run but its id. Ray ships it with each solid's step
    function, once per worker process; runs with equal contexts share step functions."""

    pipeline_name: str
    resources: Mapping[str, ResourceSpec]
    store_root: str | None
    store_options: Mapping[str, Any]
    store_backend: str | None = None
    actor_name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    """Every output of a step that failed or was skipped: the steps reading it are skipped."""

    step: str
    """The step that failed."""


# Step tasks take and return plain lists, dicts and strings, which Ray serialises with msgpack;
# dataclasses would be pickled, which costs several times more on the driver and the worker.

WireStep = list[Any]
"""A StepTask without its solid and handles: [run id, step key, config, inputs, output keys,
memo key, lineage, outputs missing, replace outputs], each input encoded by
`encode_source`."""

WireOutcome = list[Any]
"""How a step task ended: [success, events, message, ErrorInfo or None, skipped because,
keys of the outputs it stored that its worker has not committed yet, the inputs that were not
produced (a list), the resource that failed to initialise or None]."""


def encode_step(task: StepTask) -> WireStep:
    """What a step task needs of `task` besides its solid and input values."""
    inputs = {name: encode_source(source) for name, source in task.inputs.items()}
    lineage = None if task.lineage is None else dict(task.lineage)
    output_keys = dict(task.output_keys)
    return [
        task.run_id,
        task.step_key,
        task.config,
        inputs,
        output_keys,
        task.memo_key,
        lineage,
        task.outputs_missing,
        task.replace_outputs,
    ]


def decode_step(
    context: RayRunContext, solid: SolidDefinition, wire: WireStep, values: Sequence[Any]
) -> StepTask:
    """The StepTask that `encode_step` encoded; `values` are its handles, in read order."""
    run_id, step_key, config, encoded_inputs, output_keys, memo_key, lineage, missing, replace = (
        wire
    )
    inputs = {name: decode_source(source) for name, source in encoded_inputs.items()}
    return StepTask(
        run_id=run_id,
        pipeline_name=context.pipeline_name,
        step_key=step_key,
        solid=solid,
        config=config,
        inputs=inputs,
        handles=dict(zip(addresses_read(inputs), values, strict=True)),
        output_keys=output_keys,
        memo_key=memo_key,
        lineage=lineage,
        outputs_missing=missing,
        replace_outputs=replace,
    )


def step_result(step_key: str, outcome: WireOutcome, outputs: Mapping[str, Any]) -> StepResult:
    """The StepResult of a step task that returned `outcome`; `outputs` are its output refs."""
    success, _, message, error, skipped_because, _, missing_inputs, resource_failure = outcome
    return StepResult(
        step_key=step_key,
        success=success,
        outputs=outputs if success else {},
        message=message,
        error=error,
        skipped_because=skipped_because,
        missing_inputs=tuple(missing_inputs),
        resource_failure=resource_failure,
    )


def outcome_events(outcome: WireOutcome) -> list[WorkerEvent]:
    """The events of the step attempt that returned `outcome`."""
    events: list[WorkerEvent] = outcome[1]
    return events


def outcome_committing(outcome: WireOutcome) -> list[str]:
    """The keys of the outputs the step stored that its worker commits after it returned."""
    keys: list[str] = outcome[5]
    return keys
