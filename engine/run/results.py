"""What a run returns: success, events, and per-solid results and outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.events import DEFAULT_OUTPUT, ExpectationResult, Materialization
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


class PipelineRunResult:
    """The outcome of `execute_pipeline`."""

    def __init__(
        self,
        *,
        run_id: str,
        pipeline_name: str,
        status: RunStatus,
        events: list[EventRecord],
        state: SchedulerState,
        load: Callable[[Any], Any],
    ) -> None:
        self.run_id = run_id
        self.pipeline_name = pipeline_name
        self.status = status
        self.events = events
        self._state = state
        self._load = load

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    def _status_of(self, solid: str) -> StepStatus:
        try:
            return self._state.status[solid]
        except KeyError:
            known = ", ".join(self._state.status)
            raise KeyError(
                f"run {self.run_id} has no solid '{solid}' (its solids: {known})"
            ) from None

    def result_for(self, solid: str) -> SolidRunResult:
        """The result of `solid` (a dotted name for solids inside composites)."""
        status = self._status_of(solid)
        result = self._state.results.get(solid)
        return SolidRunResult(
            solid=solid,
            status=status,
            events=[event for event in self.events if event.step == solid],
            failure_message=result.message if result is not None else None,
        )

    def output_for(self, solid: str, output: str = DEFAULT_OUTPUT) -> Any:
        """The value `solid` produced for `output`."""
        status = self._status_of(solid)
        if status not in (StepStatus.SUCCEEDED, StepStatus.MEMOIZED):
            raise ValueError(
                f"solid '{solid}' did not succeed in run {self.run_id} ({status.value})"
            )
        try:
            handle = self._state.handles[(solid, output)]
        except KeyError:
            raise KeyError(f"solid '{solid}' has no output '{output}'") from None
        value = self._load(handle)
        if isinstance(value, NotProduced):
            raise ValueError(
                f"solid '{solid}' did not produce its optional output '{output}' in run "
                f"{self.run_id}"
            )
        return value

    def __repr__(self) -> str:
        return f"PipelineRunResult(run_id={self.run_id!r}, status={self.status.value})"
