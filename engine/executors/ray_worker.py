"""What runs inside Ray worker processes: one step per task, resources kept per process and
run, events numbered per step attempt and streamed to the run's event buffer actor."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.errors_info import ErrorInfo
from solidflow.engine.events.records import EventType, to_plain
from solidflow.engine.executors.ray_events import WorkerEvent
from solidflow.engine.memoization import StoredRef
from solidflow.engine.resource_manager import ResourceManager, ResourceSpec
from solidflow.engine.step_runner import OutputAddress, StepTask, run_step
from solidflow.engine.store import IntermediateStore

LIVE_AFTER = 0.2
"""Seconds a step runs before its events start streaming to the event buffer actor."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RayRunContext:
    """What every worker needs about the run; put in the object store once per run."""

    run_id: str
    resources: Mapping[str, ResourceSpec]
    store_root: str | None
    store_options: Mapping[str, Any]
    actor_name: str
    namespace: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """The small first return value of a step task; outputs are the other return values."""

    step_key: str
    attempt: str
    success: bool
    events: list[WorkerEvent]
    message: str | None = None
    error: ErrorInfo | None = None
    skipped_because: str | None = None


class _Attempt:
    """The events of one attempt at a step, numbered, with the Ray node and worker pid."""

    def __init__(self, step_key: str, actor: Any, node_id: str, live_start: bool = False) -> None:
        self.step_key = step_key
        self._live_start = live_start
        self.attempt = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.events: list[WorkerEvent] = []
        self._actor = actor
        self._origin = {"node_id": node_id, "pid": os.getpid()}
        self._sent = 0
        self._lock = threading.Lock()

    def emit(self, type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(
                (
                    self.step_key,
                    self.attempt,
                    len(self.events),
                    type.value,
                    step,
                    to_plain({**payload, **self._origin}),
                    time.time(),
                )
            )
        if type is EventType.STEP_START and self._live_start:
            # acknowledged, so that the driver sees attempts that a dying worker never finished
            self.send_new(wait=True)

    def send_new(self, wait: bool = False) -> None:
        """Stream the events not sent yet to the event buffer actor (fire and forget, unless
        `wait`)."""
        with self._lock:
            batch = self.events[self._sent :]
            self._sent = len(self.events)
        if batch:
            sent = self._actor.append.remote(batch)
            if wait:
                ray.get(sent)


class _WorkerRun:
    """What one worker process keeps for one run."""

    def __init__(self, context: RayRunContext) -> None:
        self.context = context
        self.actor = ray.get_actor(context.actor_name, namespace=context.namespace)
        self.node_id = ray.get_runtime_context().get_node_id()
        self.store = (
            IntermediateStore(context.store_root, dict(context.store_options))
            if context.store_root
            else None
        )
        self.current: _Attempt | None = None
        self.resources = ResourceManager(context.run_id, context.resources, self._emit)
        self._teardown_watch: threading.Thread | None = None

    def _emit(self, type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.emit(type, step, payload)

    def load(self, handle: Any) -> Any:
        if isinstance(handle, StoredRef):
            if self.store is None:
                raise RuntimeError("this run has no intermediate store to read outputs from")
            return self.store.get(handle.key)
        return handle

    def watch_for_teardown(self) -> None:
        """Once resources exist in this process, tear them down when the run is over."""
        if self._teardown_watch is not None or not self.resources.holds_resources:
            return
        worker = f"{self.node_id}:{os.getpid()}"
        ray.get(self.actor.register_worker.remote(worker))  # known before the run can end
        self._teardown_watch = threading.Thread(
            target=self._teardown_when_over, args=(worker,), daemon=True
        )
        self._teardown_watch.start()

    def _teardown_when_over(self, worker: str) -> None:
        while not ray.get(self.actor.is_over.remote()):
            time.sleep(0.2)
        self.current = _Attempt("", self.actor, self.node_id)
        failures = self.resources.teardown()
        self.current.send_new()
        self.actor.teardown_done.remote(worker, failures)
        _RUNS.pop(self.context.run_id, None)


_RUNS: dict[str, _WorkerRun] = {}
_STATE_LOCK = threading.Lock()
_streamer: threading.Thread | None = None


_RUNS_KEPT = 16
"""Runs a worker process remembers; older ones without resources to tear down are dropped
(a run with resources is dropped by its teardown)."""


def _worker_run(context: RayRunContext) -> _WorkerRun:
    with _STATE_LOCK:
        run = _RUNS.get(context.run_id)
        if run is None:
            run = _RUNS[context.run_id] = _WorkerRun(context)
            for old in list(_RUNS.values())[: max(0, len(_RUNS) - _RUNS_KEPT)]:
                if old.current is None and not old.resources.holds_resources:
                    del _RUNS[old.context.run_id]
                    if old.store is not None:
                        old.store.close()
        return run


def _stream_long_steps() -> None:
    """Stream the events of steps that run longer than LIVE_AFTER, so logs show them live."""
    while True:
        time.sleep(LIVE_AFTER / 2)
        for run in list(_RUNS.values()):
            attempt = run.current
            if attempt is not None and time.monotonic() - attempt.started >= LIVE_AFTER:
                attempt.send_new()


def _ensure_streamer() -> None:
    global _streamer
    if _streamer is None:
        _streamer = threading.Thread(target=_stream_long_steps, daemon=True)
        _streamer.start()


def step_function(context: RayRunContext, solid: SolidDefinition) -> Any:
    """The function of the Ray tasks that run `solid` in this run. Ray ships it (with the
    run context and the solid) to each worker once; a task then carries only its step."""

    def run_solid_step(
        task: StepTask, addresses: Sequence[OutputAddress], upstream: Sequence[str], *values: Any
    ) -> tuple[Any, ...]:
        return run_step_task(context, solid, task, addresses, upstream, values)

    run_solid_step.__name__ = run_solid_step.__qualname__ = f"solidflow_{solid.name}"
    return run_solid_step


def run_step_task(
    context: RayRunContext,
    solid: SolidDefinition,
    task: StepTask,
    addresses: Sequence[OutputAddress],
    upstream_steps: Sequence[str],
    values: Sequence[Any],
) -> tuple[Any, ...]:
    """Run one step: `values` are the resolved inputs named by `addresses`, then the outcomes
    of the upstream steps named by `upstream_steps`. Returns the StepOutcome, then the output
    values."""
    run = _worker_run(context)
    empty_outputs = (None,) * len(solid.outputs)
    inputs = dict(zip(addresses, values[: len(addresses)], strict=True))
    for step, outcome in zip(upstream_steps, values[len(addresses) :], strict=True):
        if not outcome.success:
            failed = outcome.skipped_because or step
            skipped = StepOutcome(
                step_key=task.step_key, attempt="", success=False, events=[], skipped_because=failed
            )
            return (skipped, *empty_outputs)
    retries = solid.retry is not None and solid.retry.max_retries > 0
    attempt = run.current = _Attempt(task.step_key, run.actor, run.node_id, live_start=retries)
    _ensure_streamer()
    full_task = dataclasses.replace(task, solid=solid, handles=inputs)
    try:
        result = run_step(
            full_task, full_task.input_values(run.load), run.resources, attempt.emit, run.store
        )
        if run.store is not None:
            run.store.flush()
    finally:
        run.current = None
    run.watch_for_teardown()
    outcome = StepOutcome(
        step_key=task.step_key,
        attempt=attempt.attempt,
        success=result.success,
        events=attempt.events,
        message=result.message,
        error=result.error,
    )
    if not result.success:
        return (outcome, *empty_outputs)
    return (outcome, *(result.outputs[name] for name in solid.output_names))
