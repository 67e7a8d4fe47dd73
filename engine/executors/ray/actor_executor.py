"""Run steps on pools of long-lived Ray actors: batched, pipelined, events and small outputs
back with each result, large outputs worker to worker (in the worker's own memory, or through
the object store)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import ray
import ray.cloudpickle
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from solidflow.engine.events.records import EVENT_TYPES, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import RayConfig
from solidflow.engine.executors.ray.actor_faults import FINISH_TIMEOUT, WorkerFaults
from solidflow.engine.executors.ray.cluster import cluster_resources
from solidflow.engine.executors.ray.connection import ClusterWatch, connect
from solidflow.engine.executors.ray.dispatch import Dispatcher
from solidflow.engine.executors.ray.pool import (
    DEFAULT_SHAPE,
    Worker,
    WorkerPool,
    nodes_with_cpus,
    placement,
    pool_for,
)
from solidflow.engine.executors.ray.solid_tokens import solid_of, token_of
from solidflow.engine.executors.ray.step_tracking import DONE, Promise, Step
from solidflow.engine.executors.ray.stores import DriverStore
from solidflow.engine.executors.ray.wire import Status, Where, WireResult
from solidflow.engine.executors.ray.worker_run import WorkerRunSetup
from solidflow.engine.step.error_info import ErrorInfo
from solidflow.engine.step.task import NotProduced, StepResult, StepTask
from solidflow.engine.store import StoredRef
from solidflow.errors import ExecutorError

WAIT_SLICE = 0.2
"""Most seconds one look for ended batches waits (the cluster watch is checked in between)."""
LIVE_INTERVAL = 0.2
"""Seconds between two requests for the events of the steps running now."""

_STEP_START = EventType.STEP_START.value
_WATCH: dict[str, ClusterWatch] = {}


def _error(payload: Mapping[str, Any] | None) -> ErrorInfo | None:
    return None if payload is None else ErrorInfo(**payload)


class RayActorExecutor(WorkerFaults, Executor):
    """Sends steps to step-worker actors as soon as their inputs exist, or exist soon on the
    same worker. Ray is started or joined when the first step is submitted, so a run whose
    steps are all memoized never touches Ray."""

    name = "ray"
    config_schema = RayConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        assert isinstance(run.config, RayConfig)
        self._config = run.config
        self._sink = sink
        self._run_id = run.run_id
        self._setup = WorkerRunSetup(
            run_id=run.run_id,
            pipeline_name=run.pipeline_name,
            resources=run.resources,
            store_root=run.store_root,
            store_options=run.store_options,
            store_backend=run.store_backend,
            durability=run.durability,
        )
        self._store = DriverStore(run.store_root, run.store_options, run.store_backend)
        self._canceling = False
        self._cancel_deadline: float | None = None
        self._canceled: list[StepResult] = []
        self._drains: dict[Worker, Any] = {}
        self._live: dict[Worker, set[tuple[str | None, bytes, float]]] = {}
        self._started: set[str] = set()
        self._last_drain = time.monotonic()
        self._dispatch = Dispatcher(limit=run.config.max_concurrent_steps)
        self._in_flight: dict[Any, tuple[Worker, list[Step]]] = {}
        self._workers: dict[WorkerPool, list[Worker]] = {}
        self._used: set[Worker] = set()
        self._watch: ClusterWatch | None = None
        self._waiting_for_resources: dict[str, tuple[Step, float]] = {}

    # -- starting ----------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self._sink.emit(EventType.LOG, None, {"level": "INFO", "message": message, "engine": True})
        self._sink.flush()

    def _start(self) -> None:
        if self._watch is not None:
            return
        config = self._config
        connect(
            config.address,
            namespace=config.namespace,
            runtime_env=config.runtime_env,
            timeout=config.connect_timeout,
            show_ray_logs=config.ray_logs,
            say=self._say,
        )
        job = ray.get_runtime_context().get_job_id()
        self._watch = _WATCH.get(job) or _WATCH.setdefault(job, ClusterWatch())
        self._check_cluster()
        pool = self._default = pool_for({})
        nodes = placement(nodes_with_cpus(), {}, config.workers, config.workers_per_node)
        pool.grow_to(nodes)
        size = len(nodes) if config.max_concurrent_steps is None else config.max_concurrent_steps
        self._workers[pool] = pool.workers[: max(1, size)]

    def _check_cluster(self) -> None:
        if self._watch is not None and self._watch.lost is not None:
            raise ExecutorError(self._watch.lost)

    def _grow(self, pool: WorkerPool) -> str | None:
        """Grow a pool of solids with Ray options by an actor for one more step, up to what
        the cluster takes; None, or why no node takes any."""
        if pool.shape == DEFAULT_SHAPE:
            return None
        nodes = placement(nodes_with_cpus(), pool.options, None, None)
        if not nodes:
            return cluster_resources().unsatisfiable(pool.options, refresh=True) or "no node fits"
        used = self._workers.setdefault(pool, [])
        if len(used) < len(nodes):
            pool.grow_to(nodes[: len(used) + 1])
            used[:] = pool.workers[: len(used) + 1]
        return None

    # -- submission --------------------------------------------------------------------

    def submit(self, task: StepTask) -> Mapping[str, Any] | None:
        self._start()
        options = task.solid.tags.get("ray")
        pool = self._default if not options else pool_for(dict(options))
        step = self._dispatch.add(task, token_of(task.solid), pool, dict(task.readers))
        if self._grow(pool) is not None:  # sent once a node offers what it asks for
            deadline = time.monotonic() + self._config.resource_wait_timeout
            self._waiting_for_resources[task.step_key] = (step, deadline)
        return {name: Promise(task.step_key, name) for name in task.solid.output_names}

    def can_submit(self) -> bool:
        return True

    # -- running -------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._check_cluster()
            results, self._canceled = self._canceled, []
            results += self._skipped() + self._check_resources()
            self._kill_after_grace()
            if not self._canceling:
                self._send()
            self._drain_live()
            if self._in_flight:
                ready, _ = ray.wait(
                    list(self._in_flight), num_returns=1, timeout=WAIT_SLICE, fetch_local=True
                )
                if ready and len(self._in_flight) > 1:
                    ready, _ = ray.wait(
                        list(self._in_flight), num_returns=len(self._in_flight), timeout=0
                    )
                for ref in ready:
                    results.extend(self._collect(ref))
                results.extend(self._skipped())
            elif not self._waiting_for_resources:
                return results
            else:
                time.sleep(WAIT_SLICE)
            if results:
                if not self._canceling:
                    self._send()
                return results
            if deadline is not None and time.monotonic() >= deadline:
                return results

    def _drain_live(self) -> None:
        """Deliver the events that long steps emitted so far, and ask for more every
        LIVE_INTERVAL, so that logs show them while they run (without ever waiting)."""
        for worker, ref in list(self._drains.items()):
            if ray.wait([ref], timeout=0)[0]:
                self._deliver_drained(worker)
        now = time.monotonic()
        if now - self._last_drain < LIVE_INTERVAL:
            return
        self._last_drain = now
        for worker in {worker for worker, _ in self._in_flight.values()}:
            if worker not in self._drains and not worker.dead:
                self._drains[worker] = worker.handle.drain_live.remote(self._run_id)

    def _deliver_drained(self, worker: Worker) -> None:
        """Deliver what the live drain sent to `worker` returns (waiting for it), if one was
        sent: before the results of a batch it sent later, whose events come after."""
        ref = self._drains.pop(worker, None)
        if ref is None:
            return
        with contextlib.suppress(RayError):
            events = ray.get(ref)[1]
            self._live.setdefault(worker, set()).update((e[1], e[2], e[3]) for e in events)
            self._deliver(events)

    def _send(self) -> None:
        """Send every batch there is room for."""
        dispatch = self._dispatch
        for workers in self._workers.values():
            for worker, batch in dispatch.batches(workers):
                self._send_batch(worker, [dispatch.wire_step(step) for step in batch], batch)
        for worker in list(dispatch.exports):
            if not worker.dead and worker.batches == 0:
                worker.batches += 1
                self._send_batch(worker, [], [])

    def _send_batch(self, worker: Worker, wires: list[list[Any]], batch: list[Step]) -> None:
        new = {step.token for step in batch} - worker.solids
        worker.solids |= new
        setup = None
        if self._run_id not in worker.runs:
            setup = self._setup
            worker.runs.add(self._run_id)
        ref = worker.handle.run_batch.remote(
            self._run_id,
            setup,
            {token: solid_of(token) for token in new} or None,
            wires,
            self._dispatch.exports.pop(worker, []),
            self._dispatch.releases.pop(worker, []),
        )
        self._in_flight[ref] = (worker, batch)
        self._used.add(worker)

    def _collect(self, ref: Any) -> list[StepResult]:
        if ref not in self._in_flight:  # a batch of a worker whose death was handled
            return []
        worker, batch = self._in_flight[ref]
        try:
            wire_results, exported, seconds = ray.get(ref)
        except RayActorError as error:
            if self._canceling:
                return self._batch_ended(ref, worker, batch, "canceled", canceled=True)
            return self._worker_died(worker, error)
        except RayError as error:  # the batch broke (a cancel's interrupt landed late)
            return self._batch_ended(ref, worker, batch, str(error), canceled=self._canceling)
        del self._in_flight[ref]
        worker.batches -= 1
        self._deliver_drained(worker)  # the events of a step that a drain caught running
        dispatch = self._dispatch
        dispatch.estimates.measured([step.token for step in batch], seconds)
        results = []
        for step, wire in zip(batch, wire_results, strict=True):
            result = self._ended(step, wire)
            if result is not None:
                results.append(result)
        if exported:
            dispatch.exported(worker, exported)
        self._sink.flush()
        return results

    def _batch_ended(
        self, ref: Any, worker: Worker, batch: list[Step], reason: str, canceled: bool
    ) -> list[StepResult]:
        """A batch that ended without results: each of its steps ends with `reason`."""
        del self._in_flight[ref]
        worker.batches -= 1
        results = []
        for step in batch:
            if step.state == DONE:
                continue
            self._dispatch.ended(step, None, step.key)
            if canceled and step.key in self._started:
                payload = {"message": f"solid '{step.key}' was canceled", "kind": "canceled"}
                self._sink.emit(EventType.STEP_FAILURE, step.key, payload)
            if not step.rerun:
                message = f"solid '{step.key}' was canceled" if canceled else reason
                results.append(
                    StepResult(step_key=step.key, success=False, message=message, canceled=canceled)
                )
        return results

    def _deliver(self, events: list[list[Any]]) -> None:
        emit = self._sink.emit_packed
        for kind, step, packed, timestamp in events:
            emit(EVENT_TYPES[kind], step, packed, timestamp)
        # which steps started: for those that a cancel stops without a word of their own
        self._started.update(step for kind, step, _, _ in events if kind == _STEP_START)

    def _ended(self, step: Step, wire: WireResult) -> StepResult | None:
        key, status, events, message, error, skipped, outputs, _ = wire
        self._deliver(events)
        dispatch = self._dispatch
        if status == Status.LOST_INPUT:
            self._lost_input(step, tuple(skipped))
            return None
        if status == Status.SUCCESS:
            dispatch.ended(step, outputs, None)
            if step.rerun:
                step.rerun = False
                return None
            names = step.task.solid.output_names
            return StepResult(
                step_key=key, success=True, outputs={name: Promise(key, name) for name in names}
            )
        if status == Status.NOT_PRODUCED:
            absent = {
                name: [Where.VALUE, NotProduced(key, name)] for name in step.task.solid.output_names
            }
            dispatch.ended(step, absent, None)
            return StepResult(step_key=key, success=False, missing_inputs=tuple(skipped))
        dispatch.ended(step, None, skipped if status == Status.SKIPPED else key)
        if status == Status.SKIPPED:
            return StepResult(step_key=key, success=False, skipped_because=skipped)
        return StepResult(
            step_key=key,
            success=False,
            message=message,
            error=_error(error),
            canceled=status == Status.CANCELED,
            resource_failure=skipped if status == Status.RESOURCE_FAILED else None,
        )

    def _skipped(self) -> list[StepResult]:
        """Results for the steps the dispatcher found will never run."""
        found, self._dispatch.skipped = self._dispatch.skipped, []
        return [
            StepResult(step_key=step.key, success=False, skipped_because=failed)
            for step, failed in found
        ]

    def _check_resources(self) -> list[StepResult]:
        """Steps that waited for a node offering their resources: queued once one does;
        failed after `resource_wait_timeout`."""
        results = []
        for key, (step, deadline) in list(self._waiting_for_resources.items()):
            problem = self._grow(step.pool)
            if problem is None:
                del self._waiting_for_resources[key]
            elif time.monotonic() >= deadline:
                del self._waiting_for_resources[key]
                message = f"solid '{key}' cannot run on this Ray cluster: {problem}"
                self._sink.emit(
                    EventType.STEP_FAILURE, key, {"message": message, "kind": "unsatisfiable"}
                )
                self._dispatch.abandon(step)
                results.append(StepResult(step_key=key, success=False, message=message))
        return results

    # -- end ---------------------------------------------------------------------------

    def finalize(self) -> list[str]:
        if self._watch is None:  # Ray was never needed
            return []
        if self._watch.lost is not None:
            return []
        if self._in_flight:
            self._cancel_in_flight()
        finishes = {
            worker.handle.finish_run.remote(self._run_id): worker
            for worker in self._used
            if not worker.dead
        }
        failures: list[str] = []
        try:
            done = ray.get(list(finishes), timeout=FINISH_TIMEOUT)
        except (RayError, GetTimeoutError) as error:
            failures.append(f"the end of the run on its workers could not be confirmed: {error}")
            done = []
        for commit_failures, events, teardown_failures in done:
            self._deliver(events)
            for message in commit_failures:
                self._sink.emit(EventType.LOG, None, {"level": "WARNING", "message": message})
            failures.extend(teardown_failures)
        self._store.close()
        self._sink.flush()
        return failures

    def load(self, handle: Any) -> Any:
        if type(handle) is StoredRef:
            return self._store.opened().get(handle.key)
        output = self._dispatch.outputs[(handle.step, handle.output)]
        wire = output.wire or [Where.STORE]
        if wire[0] == Where.VALUE:
            return wire[1]
        if wire[0] == Where.PICKLED:
            return ray.cloudpickle.loads(wire[1])
        if wire[0] == Where.REF:
            return ray.get(wire[1])
        key = self._dispatch.steps[handle.step].task.output_keys[handle.output]
        return self._store.opened().get(key)
