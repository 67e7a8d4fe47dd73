"""Drive a plan on an executor: submit steps as their inputs become ready, skip below failures."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor
from solidflow.engine.memo.claims import CLAIM_POLL, Claimed, Served, SharedSteps
from solidflow.engine.memo.memoization import MemoKeys
from solidflow.engine.plan.steps import ExecutionPlan
from solidflow.engine.step.task import NotProduced, OutputAddress, StepResult, StepTask
from solidflow.engine.store import StoredRef


class StepStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    MEMOIZED = "MEMOIZED"
    CANCELED = "CANCELED"
    """Stopped before its end by a cancel of the run (steps that never started stay PENDING)."""


CANCEL_POLL = 0.2
"""Most seconds the scheduler waits for ended steps before it looks for a cancel request."""


@dataclass(slots=True)
class SchedulerState:
    """Where every step of the plan stands, and the handles of the outputs produced so far."""

    status: dict[str, StepStatus]
    results: dict[str, StepResult] = field(default_factory=dict)
    handles: dict[OutputAddress, Any] = field(default_factory=dict)
    run_failure: str | None = None
    """Why the run ended before its steps did (a resource failed to initialise)."""

    def keys_with(self, status: StepStatus) -> list[str]:
        return [key for key, value in self.status.items() if value is status]


def _readers(plan: ExecutionPlan) -> dict[str, dict[str, int]]:
    """For each step, how many steps of the plan read each of its outputs."""
    readers: dict[str, dict[str, int]] = {}
    for step in plan.steps.values():
        for producer, output in step.reads():
            if producer in plan.steps:
                counts = readers.setdefault(producer, {})
                counts[output] = counts.get(output, 0) + 1
    return readers


class Scheduler:
    """A state machine over step keys: pending -> running -> succeeded | failed | skipped |
    canceled, or memoized from the start. A step is skipped when an upstream step failed, or
    when an output it reads was not produced; a resource that fails to initialise ends the
    run (the steps not started yet are skipped).

    `keys` are the steps' memoization keys; `memoized` maps the steps that need not run to
    the payload of their STEP_MEMOIZED event; `outputs_missing` are the steps none of whose
    outputs the store held as the run started; with `replace_outputs` (a run that does not
    memoize) the steps' outputs replace those stored under their keys. Once `canceled()` is true, no step is
    submitted any more, the executor cancels those in flight, and the run ends when they
    have reported. With `shared`, a ready step that another run has claimed is awaited
    rather than submitted: it becomes memoized once that run stored its outputs, or runs here
    once the claim is gone (see `solidflow.engine.memo.claims`).
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        executor: Executor,
        sink: EventSink,
        run_id: str,
        keys: Mapping[str, MemoKeys],
        memoized: Mapping[str, dict[str, Any]],
        outputs_missing: Collection[str] = (),
        replace_outputs: bool = False,
        canceled: Callable[[], bool] = lambda: False,
        shared: SharedSteps | None = None,
    ) -> None:
        self._plan = plan
        self._executor = executor
        self._sink = sink
        self._run_id = run_id
        self._keys = keys
        self._memoized = memoized
        self._outputs_missing = set(outputs_missing)
        self._replace_outputs = replace_outputs
        self._canceled = canceled
        self._shared = shared
        self._awaited: set[str] = set()
        self._next_poll = 0.0
        self._children = plan.downstream()
        self._readers = _readers(plan)
        self._waiting_on = {key: set(step.upstream) for key, step in plan.steps.items()}
        self._released: set[str] = set()
        self.state = SchedulerState(status=dict.fromkeys(plan.steps, StepStatus.PENDING))
        self.state.handles.update(
            {address: StoredRef(key) for address, key in plan.external.items()}
        )

    def run(self) -> SchedulerState:
        """Run the plan to the end; returns the final state."""
        ready: deque[str] = deque()
        for key, payload in self._memoized.items():
            self._memoize(key, payload, ready)
        self._sink.flush()
        ready = deque(
            key
            for key, waiting in self._waiting_on.items()
            if not waiting and self.state.status[key] is StepStatus.PENDING
        )
        running = 0
        canceling = False
        while ready or running or self._awaited:
            if self.state.run_failure is not None:
                ready.clear()
                self._awaited.clear()
            if not canceling and self._canceled():
                canceling = True
                ready.clear()
                self._awaited.clear()
                if running:
                    self._executor.cancel()
            while ready and self._executor.can_submit() and not self._canceled():
                key = ready.popleft()
                if self.state.status[key] is not StepStatus.PENDING:
                    continue  # skipped while it waited for a free slot
                if self._shared is not None and key in self._shared.held_elsewhere:
                    self._await(key)
                    continue
                self._submit(key, ready)
                running += 1
            if self._awaited and not canceling:
                self._poll_awaited(ready)
            if running:
                for result in self._executor.wait(timeout=CANCEL_POLL):
                    running -= 1
                    self._finish(result, ready)
            elif self._awaited and not ready:
                time.sleep(max(0.0, self._next_poll - time.monotonic()))
            if canceling:
                ready.clear()  # children released by the last steps that ended
        if self.state.run_failure is not None:
            for key in self.state.keys_with(StepStatus.PENDING):
                self._skip(key, {"message": f"not run: {self.state.run_failure}"})
            self._sink.flush()
        return self.state

    def _memoize(self, key: str, payload: dict[str, Any], ready: deque[str]) -> None:
        """The step's outputs are stored: it is MEMOIZED, and its children may run."""
        self.state.status[key] = StepStatus.MEMOIZED
        self._sink.emit(EventType.STEP_MEMOIZED, key, payload)
        outputs = self._keys[key].output_keys
        handles = {name: StoredRef(output_key) for name, output_key in outputs.items()}
        self._release_children(key, handles, ready)

    def _await(self, key: str) -> None:
        assert self._shared is not None
        claim = self._shared.held_elsewhere[key]
        self._awaited.add(key)
        message = f"waiting for run {claim.run_id}, which computes the same step ({claim.step})"
        self._sink.emit(EventType.LOG, key, {"level": "INFO", "message": message})
        self._sink.flush()

    def _poll_awaited(self, ready: deque[str]) -> None:
        """Look at the awaited steps (every CLAIM_POLL seconds): memoize those stored by now;
        those claimed by this run now are ready to run here."""
        assert self._shared is not None
        if time.monotonic() < self._next_poll:
            return
        self._next_poll = time.monotonic() + CLAIM_POLL
        for key in sorted(self._awaited):
            outcome = self._shared.poll(key)
            if isinstance(outcome, Served):
                self._awaited.discard(key)
                self._memoize(key, outcome.payload, ready)
            elif isinstance(outcome, Claimed):
                self._awaited.discard(key)
                self._outputs_missing.discard(key)  # its claimant may have stored some
                message = (
                    f"computing the step here: run {outcome.taken_from.run_id} no longer holds it"
                )
                self._sink.emit(EventType.LOG, key, {"level": "INFO", "message": message})
                ready.appendleft(key)
        self._sink.flush()

    def _submit(self, key: str, ready: deque[str]) -> None:
        step = self._plan.steps[key]
        handles = self.state.handles
        needed = {address: handles[address] for address in step.reads()}
        memo_keys = self._keys[key]
        self.state.status[key] = StepStatus.RUNNING
        promised = self._executor.submit(
            StepTask(
                run_id=self._run_id,
                pipeline_name=self._plan.pipeline_name,
                step_key=key,
                solid=step.solid,
                config=step.config,
                inputs=step.inputs,
                handles=needed,
                output_keys=memo_keys.output_keys,
                memo_key=memo_keys.memo_key,
                lineage=memo_keys.lineage,
                outputs_missing=key in self._outputs_missing,
                replace_outputs=self._replace_outputs,
                readers=self._readers.get(key, {}),
            )
        )
        if promised is not None:  # the executor runs children as soon as the outputs exist
            self._release_children(key, promised, ready)

    def _release_children(self, key: str, handles: Mapping[str, Any], ready: deque[str]) -> None:
        self._released.add(key)
        for name, handle in handles.items():
            self.state.handles[(key, name)] = handle
        for child in self._children[key]:
            waiting = self._waiting_on[child]
            waiting.discard(key)
            if not waiting and self.state.status[child] is StepStatus.PENDING:
                ready.append(child)

    def _finish(self, result: StepResult, ready: deque[str]) -> None:
        key = result.step_key
        if self.state.status[key] is StepStatus.SKIPPED:
            return  # submitted before its upstream failed; the skip is already recorded
        self.state.results[key] = result
        if self._shared is not None and not result.success:
            self._shared.release(key)
        if result.canceled:
            self.state.status[key] = StepStatus.CANCELED
        elif result.skipped_because is not None:
            self._skip(key, _upstream_failed(result.skipped_because))
            self._skip_below(result.skipped_because, _upstream_failed(result.skipped_because))
        elif result.missing_inputs:
            self._skip(key, self._inputs_missing(result.missing_inputs))
            if key not in self._released:
                solid = self._plan.steps[key].solid
                absent = {name: NotProduced(key, name) for name in solid.output_names}
                self._release_children(key, absent, ready)
        elif result.resource_failure is not None:
            self.state.run_failure = result.message or f"resource '{result.resource_failure}'"
            payload = {"message": f"not run: {result.message}", "resource": result.resource_failure}
            self._skip(key, payload)
            self._skip_below(key, payload)
        elif not result.success:
            self.state.status[key] = StepStatus.FAILED
            self._skip_below(key, _upstream_failed(key))
        else:
            self.state.status[key] = StepStatus.SUCCEEDED
            if key not in self._released:
                self._release_children(key, result.outputs, ready)

    def _inputs_missing(self, addresses: tuple[str, ...]) -> dict[str, Any]:
        """The STEP_SKIPPED payload of a step whose inputs `addresses` were not produced."""
        reasons = []
        for address in addresses:
            step, output = address.rsplit(".", 1)
            if self.state.status.get(step) is StepStatus.SKIPPED:
                reasons.append(f"upstream step '{step}' was skipped")
            else:
                reasons.append(f"output '{output}' of step '{step}' was not produced")
        message = "skipped because " + " and ".join(dict.fromkeys(reasons))
        return {"message": message, "missing_inputs": list(addresses)}

    def _skip(self, key: str, payload: dict[str, Any]) -> None:
        self.state.status[key] = StepStatus.SKIPPED
        self._sink.emit(EventType.STEP_SKIPPED, key, payload)

    def _skip_below(self, root: str, payload: dict[str, Any]) -> None:
        queue = deque(self._children[root])
        while queue:
            key = queue.popleft()
            if self.state.status[key] not in (StepStatus.PENDING, StepStatus.RUNNING):
                continue
            self._skip(key, payload)
            queue.extend(self._children[key])
        self._sink.flush()


def _upstream_failed(step: str) -> dict[str, Any]:
    return {"message": f"skipped because upstream step '{step}' failed", "upstream": step}
