"""What runs inside Ray worker processes: one step per task, resources kept per process and
run, events numbered per step attempt and streamed to the driver's event buffer actor."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import ray

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventType, pack_payload
from solidflow.engine.executors.ray.committer import COMMITTER
from solidflow.engine.executors.ray.events import WorkerEvent
from solidflow.engine.executors.ray.stores import open_store
from solidflow.engine.executors.ray.task_wire import (
    RayRunContext,
    UpstreamFailed,
    WireStep,
    decode_step,
)
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import NotProduced
from solidflow.engine.store import StoredRef

LIVE_AFTER = 0.2
"""Seconds a step runs before its events start streaming to the event buffer actor."""
_ATTEMPT_PREFIX = os.urandom(6).hex()
_ATTEMPT_NUMBERS = itertools.count()


class _Attempt:
    """The events of one attempt at a step, numbered, with the Ray node and worker pid."""

    def __init__(self, run: _WorkerRun, step_key: str, live_start: bool = False) -> None:
        self.run_id = run.run_id
        self.step_key = step_key
        self._live_start = live_start
        self.attempt = f"{_ATTEMPT_PREFIX}{next(_ATTEMPT_NUMBERS):x}"  # unique, and cheap
        self.started = time.monotonic()
        self.events: list[WorkerEvent] = []
        self._actor = run.actor
        self._origin = {"node_id": run.node_id, "pid": os.getpid()}
        self._sent = 0
        self._lock = threading.Lock()

    def emit(self, type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(
                [
                    self.step_key,
                    self.attempt,
                    len(self.events),
                    type.value,
                    step,
                    pack_payload({**payload, **self._origin}),
                    time.time(),
                ]
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
            sent = self._actor.append.remote(self.run_id, batch)
            if wait:
                ray.get(sent)


class _WorkerRun:
    """What one worker process keeps for one run."""

    def __init__(self, context: RayRunContext, run_id: str) -> None:
        self.run_id = run_id
        self.actor = _event_buffer(context.actor_name, context.namespace)
        self.node_id = ray.get_runtime_context().get_node_id()
        self.store = open_store(context.store_root, context.store_options, context.store_backend)
        self.current: _Attempt | None = None
        self.resources = ResourceManager(run_id, context.resources, self._emit)
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
        ray.get(self.actor.register_worker.remote(self.run_id, worker))  # before the run ends
        self._teardown_watch = threading.Thread(
            target=self._teardown_when_over, args=(worker,), daemon=True
        )
        self._teardown_watch.start()

    def _teardown_when_over(self, worker: str) -> None:
        while not ray.get(self.actor.is_over.remote(self.run_id)):
            time.sleep(0.2)
        self.current = _Attempt(self, "")
        failures = self.resources.teardown()
        self.current.send_new()
        self.actor.teardown_done.remote(self.run_id, worker, failures)
        _RUNS.pop(self.run_id, None)


_RUNS: dict[str, _WorkerRun] = {}
_STATE_LOCK = threading.Lock()
_streamer: threading.Thread | None = None
_EVENT_BUFFERS: dict[tuple[str, str], Any] = {}


_RUNS_KEPT = 16
"""Runs a worker process remembers; older ones without resources to tear down are dropped
(a run with resources is dropped by its teardown)."""


def _worker_run(context: RayRunContext, run_id: str) -> _WorkerRun:
    with _STATE_LOCK:
        run = _RUNS.get(run_id)
        if run is None:
            run = _RUNS[run_id] = _WorkerRun(context, run_id)
            for old in list(_RUNS.values())[: max(0, len(_RUNS) - _RUNS_KEPT)]:
                if old.current is None and not old.resources.holds_resources:
                    del _RUNS[old.run_id]
        return run


def _event_buffer(name: str, namespace: str) -> Any:
    """The handle of the event buffer actor `name`, looked up once per worker process (the
    driver keeps the actor for all its runs). Call with _STATE_LOCK held."""
    handle = _EVENT_BUFFERS.get((name, namespace))
    if handle is None:
        handle = _EVENT_BUFFERS[(name, namespace)] = ray.get_actor(name, namespace=namespace)
    return handle


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
    """The function of the Ray tasks that run `solid` in runs with this context. Ray ships it
    (with the context and the solid) to each worker once; a task then carries only its WireStep
    and input values."""

    def run_solid_step(step: WireStep, *values: Any) -> list[Any]:
        return run_step_task(context, solid, step, values)

    run_solid_step.__name__ = run_solid_step.__qualname__ = f"solidflow_{solid.name}"
    return run_solid_step


def run_step_task(
    context: RayRunContext, solid: SolidDefinition, step: WireStep, values: Sequence[Any]
) -> list[Any]:
    """Run one step: `values` are the handles of the (step, output) addresses it reads, in
    read order, resolved by Ray. Returns the WireOutcome, then the output values; each output
    is UpstreamFailed when the step fails or is skipped below a failure, NotProduced when it is
    skipped because an output it reads was not produced."""
    failed = next((value for value in values if isinstance(value, UpstreamFailed)), None)
    if failed is not None:
        return [[False, [], None, None, failed.step, [], [], None], *[failed] * len(solid.outputs)]
    task = decode_step(context, solid, step, values)
    run = _worker_run(context, task.run_id)
    retries = solid.retry is not None and solid.retry.max_retries > 0
    attempt = run.current = _Attempt(run, task.step_key, live_start=retries)
    _ensure_streamer()
    try:
        result = run_step(task, run.load, run.resources, attempt.emit, run.store)
    finally:
        run.current = None
    store = run.store
    committing = [] if store is None else store.uncommitted(task.output_keys.values())
    if store is not None and committing and task.replace_outputs:
        store.flush()  # the driver cannot tell old outputs from these
        committing = []
    if store is not None and committing:
        COMMITTER.commit_soon(store)
    run.watch_for_teardown()
    outcome = [
        result.success,
        attempt.events,
        result.message,
        result.error,
        None,
        committing,
        list(result.missing_inputs),
        result.resource_failure,
    ]
    if result.missing_inputs:
        return [outcome, *(NotProduced(task.step_key, name) for name in solid.output_names)]
    if not result.success:
        return [outcome, *[UpstreamFailed(task.step_key)] * len(solid.outputs)]
    return [outcome, *(result.outputs[name] for name in solid.output_names)]
