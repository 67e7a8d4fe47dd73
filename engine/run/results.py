"""What a run returns: success, events, and per-solid results and outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.events import DEFAULT_OUTPUT, ExpectationResult, Materialization
from solidflow.definitions.graph import FanIn, FromOutput, FromValue, InputBinding
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.run.scheduler import SchedulerState, StepStatus
from solidflow.engine.step.task import NotProduced


class StepEvents:
    """Materializations and expectation results read from a solid's `events`."""

    __slots__ = ()
    events: list[EventRecord]

    @property
    def materializations(self) -> list[Materialization]:
        return [
            Materialization(
                e.payload["asset_key"],
                e.payload.get("metadata") or {},
                e.payload.get("description"),
            )
            for e in self.events
            if e.type is EventType.MATERIALIZATION
        ]

    @property
    def expectation_results(self) -> list[ExpectationResult]:
        return [
            ExpectationResult(
                e.payload["success"],
                e.payload["label"],
                e.payload.get("metadata") or {},
                e.payload.get("description"),
            )
            for e in self.events
            if e.type is EventType.EXPECTATION
        ]


@dataclass(frozen=True, slots=True)
class SolidRunResult(StepEvents):
    """How one solid fared in a run."""

    solid: str
    status: StepStatus
    events: list[EventRecord]
    failure_message: str | None

    @property
    def success(self) -> bool:
        """True when the solid ran and succeeded, or its outputs were memoized."""
        return self.status in (StepStatus.SUCCEEDED, StepStatus.MEMOIZED)

    @property
    def memoized(self) -> bool:
        return self.status is StepStatus.MEMOIZED

    @property
    def skipped(self) -> bool:
        return self.status is StepStatus.SKIPPED


def _composite_status(statuses: list[StepStatus]) -> StepStatus:
    """How a composite fared, from how its inner steps did."""
    for status in (StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.RUNNING, StepStatus.PENDING):
        if status in statuses:
            return status
    if all(status is StepStatus.MEMOIZED for status in statuses):
        return StepStatus.MEMOIZED
    return StepStatus.SUCCEEDED


class PipelineRunResult:
    """The outcome of `execute_pipeline`.

    Solids are named as in the pipeline: dotted names for solids inside composites, and a
    composite's own name for the composite as a whole.
    """

    def __init__(
        self,
        *,
        run_id: str,
        pipeline_name: str,
        status: RunStatus,
        events: list[EventRecord],
        state: SchedulerState,
        load: Callable[[Any], Any],
        composite_outputs: Mapping[str, Mapping[str, InputBinding]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.pipeline_name = pipeline_name
        self.status = status
        self.events = events
        self._state = state
        self._load = load
        self._composite_outputs = composite_outputs or {}

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    def _inner_steps(self, composite: str) -> list[str]:
        prefix = composite + "."
        return [step for step in self._state.status if step.startswith(prefix)]

    def _status_of(self, solid: str) -> StepStatus:
        status = self._state.status.get(solid)
        if status is not None:
            return status
        inner = self._inner_steps(solid) if solid in self._composite_outputs else []
        if not inner:
            known = ", ".join([*self._state.status, *self._composite_outputs])
            raise KeyError(f"run {self.run_id} has no solid '{solid}' (its solids: {known})")
        return _composite_status([self._state.status[step] for step in inner])

    def result_for(self, solid: str) -> SolidRunResult:
        """The result of `solid`: a dotted name for a solid inside a composite; a composite's
        own name for the composite as a whole (its inner solids' events; failed if one of them
        failed, skipped if one was skipped)."""
        status = self._status_of(solid)
        steps = {solid} if solid in self._state.status else set(self._inner_steps(solid))
        failures = [
            result.message
            for step, result in self._state.results.items()
            if step in steps and result.message is not None
        ]
        return SolidRunResult(
            solid=solid,
            status=status,
            events=[event for event in self.events if event.step in steps],
            failure_message=failures[0] if failures else None,
        )

    def output_for(self, solid: str, output: str = DEFAULT_OUTPUT) -> Any:
        """The value `solid` (a solid or a composite) produced for `output`."""
        status = self._status_of(solid)
        if status not in (StepStatus.SUCCEEDED, StepStatus.MEMOIZED):
            raise ValueError(
                f"solid '{solid}' did not succeed in run {self.run_id} ({status.value})"
            )
        if solid in self._state.status:
            binding: InputBinding = FromOutput(solid, output)
        else:
            outputs = self._composite_outputs[solid]
            if output not in outputs:
                names = ", ".join(outputs) or "none"
                raise KeyError(
                    f"composite solid '{solid}' has no output '{output}' (its outputs: {names})"
                )
            binding = outputs[output]
        value = self._value(binding, solid)
        if isinstance(value, NotProduced):
            raise ValueError(
                f"solid '{solid}' did not produce its optional output '{output}' in run "
                f"{self.run_id}"
            )
        return value

    def _value(self, binding: InputBinding, solid: str) -> Any:
        if isinstance(binding, FromValue):
            return binding.value
        if isinstance(binding, FanIn):
            values = [self._value(source, solid) for source in binding.sources]
            return [value for value in values if not isinstance(value, NotProduced)]
        handle = self._state.handles.get((binding.node, binding.output))
        if handle is not None:
            return self._load(handle)
        if binding.node not in self._state.status:
            raise KeyError(
                f"the output of '{solid}' comes from solid '{binding.node}', which run "
                f"{self.run_id} did not include"
            )
        raise KeyError(f"solid '{solid}' has no output '{binding.output}'")

    def __repr__(self) -> str:
        return f"PipelineRunResult(run_id={self.run_id!r}, status={self.status.value})"
