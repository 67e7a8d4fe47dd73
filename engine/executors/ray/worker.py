"""What runs inside Ray worker processes: one step per task, resources kept per process and
run, events numbered per step attempt and streamed to the driver's event buffer actor."""

from __future__ import annotations

import atexit
import itertools
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventType, pack_payload
from solidflow.engine.executors.ray.events import WorkerEvent
from solidflow.engine.executors.ray.stores import open_store
from solidflow.engine.executors.ray.wire import decode_source, encode_source
from solidflow.engine.plan.steps import ResourceSpec, addresses_read
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import NotProduced, StepResult, StepTask
from solidflow.engine.store import IntermediateStore, StoredRef

LIVE_AFTER = 0.2
"""Seconds a step runs before its events start streaming to the event buffer actor."""
COMMIT_DELAY = 0.01
"""Most seconds a worker waits, after a step stored outputs, before it commits them: the
outputs of the steps that end meanwhile go in the same transaction."""
COMMIT_QUIET = 0.002
"""Seconds without another step storing outputs after which a worker commits at once."""

_ATTEMPT_PREFIX = os.urandom(6).hex()
_ATTEMPT_NUMBERS = itertools.count()


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


class _Committer:
    """Commits the outputs that this process's steps stored once steps stop storing for
    COMMIT_QUIET, or COMMIT_DELAY after the first of them, in one transaction per store; a
    step's task returns without waiting for it. The driver waits for these commits at the end
    of the run. Steps only wake the committer when it waits for a first output."""

    def __init__(self) -> None:
        self._due = threading.Event()
        self._lock = threading.Lock()
        self._stores: dict[int, IntermediateStore] = {}
        self._last_stored = 0.0
        self._idle = True
        self._thread: threading.Thread | None = None

    def commit_soon(self, store: IntermediateStore) -> None:
        with self._lock:
            self._stores[id(store)] = store
            self._last_stored = time.monotonic()
            wake, self._idle = self._idle, False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._commit_when_due, name="solidflow-commit", daemon=True
                )
                self._thread.start()
        if wake:
            self._due.set()

    def _commit_when_due(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            deadline = time.monotonic() + COMMIT_DELAY
            while True:  # until steps stop storing for a moment, or the deadline
                now = time.monotonic()
                due = min(self._last_stored + COMMIT_QUIET, deadline)
                if now >= due:
                    break
                time.sleep(due - now)
            self.commit_all()

    def commit_all(self) -> None:
        """Commit now what the stores hold; a failure is reported, and the driver then warns
        that the outputs were not stored."""
        with self._lock:  # a step that stores after this wakes the committer again
            stores, self._stores, self._idle = self._stores, {}, True
        for store in stores.values():
            try:
                store.flush()
            except Exception as error:  # the outputs stay missing; the driver says so
                print(f"solidflow: could not commit outputs to {store}: {error}", file=sys.stderr)


_COMMITTER = _Committer()
atexit.register(_COMMITTER.commit_all)


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
        _COMMITTER.commit_soon(store)
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
