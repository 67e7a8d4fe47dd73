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

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EVENT_TYPES, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import RayConfig
from solidflow.engine.executors.ray.cluster import cluster_resources
from solidflow.engine.executors.ray.connection import ClusterWatch, connect
from solidflow.engine.executors.ray.dispatch import DONE, Dispatcher, Promise, Step
from solidflow.engine.executors.ray.pool import (
    DEFAULT_SHAPE,
    Worker,
    WorkerPool,
    nodes_with_cpus,
    placement,
    pool_for,
)
from solidflow.engine.executors.ray.shipping import register_user_modules
from solidflow.engine.executors.ray.wire import Status, Where, WireResult
from solidflow.engine.executors.ray.worker_run import WorkerRunSetup
from solidflow.engine.step.error_info import ErrorInfo
from solidflow.engine.step.task import NotProduced, StepResult, StepTask
from solidflow.engine.store import IntermediateStore, StoredRef
from solidflow.errors import ExecutorError

WAIT_SLICE = 0.2
"""Most seconds one look for ended batches waits (the cluster watch is checked in between)."""
FINISH_TIMEOUT = 120.0
"""Seconds the end of a run waits for workers to commit its outputs and tear down."""
CANCEL_GRACE = 5.0
"""Seconds a cancel waits for steps running now to end before it kills their workers."""
LIVE_INTERVAL = 0.2
"""Seconds between two requests for the events of the steps running now."""
JOURNAL_TIMEOUT = 30.0
"""Seconds to wait for a dead worker's replacement to read the dead worker's journal."""

_STEP_START = EventType.STEP_START.value
_TOKENS: dict[int, tuple[SolidDefinition, int]] = {}
_SOLIDS: dict[int, SolidDefinition] = {}
_WATCH: dict[str, ClusterWatch] = {}


def _token(solid: SolidDefinition) -> int:
    """A number for `solid` that step workers know it by (kept for the driver's life)."""
    found = _TOKENS.get(id(solid))
    if found is not None and found[0] is solid:
        return found[1]
    register_user_modules(solid)
    token = len(_SOLIDS)
    _TOKENS[id(solid)] = (solid, token)
    _SOLIDS[token] = solid
    return token


def _error(payload: Mapping[str, Any] | None) -> ErrorInfo | None:
    return None if payload is None else ErrorInfo(**payload)


class RayActorExecutor(Executor):
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
        self._store_spec = (run.store_root, dict(run.store_options), run.store_backend)
        self._canceling = False
        self._cancel_deadline: float | None = None
        self._canceled: list[StepResult] = []
        self._drains: dict[Worker, Any] = {}
        self._started: set[str] = set()
        self._last_drain = time.monotonic()
        self._store: IntermediateStore | None = None
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
        step = self._dispatch.add(task, _token(task.solid), pool, dict(task.readers))
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
                del self._drains[worker]
                with contextlib.suppress(RayError):
                    self._deliver(ray.get(ref)[1])
        now = time.monotonic()
        if now - self._last_drain < LIVE_INTERVAL:
            return
        self._last_drain = now
        for worker in {worker for worker, _ in self._in_flight.values()}:
            if worker not in self._drains and not worker.dead:
                self._drains[worker] = worker.handle.drain_live.remote(self._run_id)

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
            {token: _SOLIDS[token] for token in new} or None,
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

    # -- faults ------------------------------------------------------------------------

    def _worker_died(self, worker: Worker, error: RayError) -> list[StepResult]:
        """Send the steps of the batches of a worker that died again, the one that was running
        (and those before it in its batch) as their next attempt, or fail them when they have
        no retries left; replace the worker."""
        if self._watch is not None and self._watch.look_now() is not None:
            raise ExecutorError(self._watch.lost)  # the worker died with the cluster
        batches = [batch for w, batch in self._in_flight.values() if w is worker]
        for ref in [ref for ref, (w, _) in self._in_flight.items() if w is worker]:
            del self._in_flight[ref]
        worker.batches = 0
        replacement = worker.pool.replace(worker)
        workers = self._workers.get(worker.pool, [])
        if worker in workers:
            workers[workers.index(worker)] = replacement
        journal = self._journal_of(worker, replacement)
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        results = []
        again = []
        for index, batch in enumerate(batches):
            for step in batch:
                if step.state == DONE:
                    continue
                if journal is None:
                    started = index == 0  # batches run in order: later ones had not started
                    events = []
                else:
                    events = journal.get((step.key, step.attempt), [])
                    started = bool(events)
                if not started:
                    again.append((step, step.attempt))
                    continue
                self._deliver(events)
                if self._retry(step, worker, reason):
                    again.append((step, step.attempt + 1))
                else:
                    results.extend(self._lost(step, reason))
        reruns: list[Step] = []
        again.extend(
            (step, step.attempt) for step in self._dispatch.forget_worker(worker, reruns.append)
        )
        again.extend((producer, producer.attempt + 1) for producer in self._reruns(reruns))
        self._dispatch.requeue(again)
        self._sink.flush()
        return results

    def _journal_of(
        self, dead: Worker, replacement: Worker
    ) -> dict[tuple[str, int], list[Any]] | None:
        """The events a dead worker journaled for this run, read by its replacement on the
        same node; None when they are out of reach (the node died too)."""
        located = dead.located()
        if located is None:
            return None
        try:
            found = ray.get(
                replacement.handle.journal_of.remote(located[0], located[1], self._run_id),
                timeout=JOURNAL_TIMEOUT,
            )
        except (RayError, GetTimeoutError):
            return None
        return None if found is None else {(s, a): events for s, a, events in found}

    def _retry(self, step: Step, worker: Worker, reason: str) -> bool:
        """Whether a step whose worker died has retries left (a STEP_RETRY says so)."""
        retries = max(self._config.worker_retries, getattr(step.task.solid.retry, "max_retries", 0))
        if step.attempt > retries:
            return False
        self._sink.emit(
            EventType.STEP_RETRY,
            step.key,
            {
                "attempt": step.attempt + 1,
                "reason": "worker_died",
                "message": f"the worker running attempt {step.attempt} of solid "
                f"'{step.key}' (node {worker.node_id}) died ({reason}); running it again",
            },
        )
        return True

    def _lost(self, step: Step, reason: str) -> list[StepResult]:
        message = (
            f"solid '{step.key}' was lost with its worker after {step.attempt} attempt(s): {reason}"
        )
        self._sink.emit(
            EventType.STEP_FAILURE,
            step.key,
            {"message": message, "kind": "worker_lost", "error_class": reason.split(":")[0]},
        )
        self._dispatch.ended(step, None, step.key)
        if step.rerun:
            return []
        return [StepResult(step_key=step.key, success=False, message=message)]

    def _reruns(self, producers: list[Step]) -> list[Step]:
        """Of steps that succeeded and whose outputs were lost with a worker, those to run
        again (once each) to make them again."""
        found = []
        for producer in dict.fromkeys(producers):
            if producer.rerun or producer.state != DONE:
                continue
            self._sink.emit(
                EventType.LOG,
                producer.key,
                {
                    "level": "WARNING",
                    "message": f"outputs of solid '{producer.key}' were lost with their "
                    "worker; running it again",
                },
            )
            producer.rerun = True
            found.append(producer)
        return found

    def _lost_input(self, step: Step, address: tuple[str, str]) -> None:
        """A step could not fetch an input (its object was lost): make it again first."""
        producer = self._dispatch.steps.get(address[0])
        self._dispatch.output_lost(address)
        reruns = self._reruns([producer] if producer is not None else [])
        self._dispatch.requeue([*((p, p.attempt + 1) for p in reruns), (step, step.attempt)])

    def _kill_after_grace(self) -> None:
        if self._cancel_deadline is None or time.monotonic() < self._cancel_deadline:
            return
        self._cancel_deadline = None
        busy = {worker for worker, _ in self._in_flight.values()}
        for worker, replacement in self._commit_then_kill(busy):
            workers = self._workers.get(worker.pool, [])
            if worker in workers:
                workers[workers.index(worker)] = replacement

    def _commit_then_kill(self, workers: set[Worker]) -> list[tuple[Worker, Worker]]:
        """Kill workers whose step does not end, after they committed what the run's steps
        stored there (it would be lost with them); each worker killed and its replacement."""
        alive = [worker for worker in workers if not worker.dead]
        commits = [worker.handle.commit_now.remote(self._run_id) for worker in alive]
        with contextlib.suppress(RayError, GetTimeoutError):
            for failures in ray.get(commits, timeout=FINISH_TIMEOUT):
                for message in failures:
                    self._sink.emit(EventType.LOG, None, {"level": "WARNING", "message": message})
        return [(worker, worker.pool.stop(worker)) for worker in alive]

    def cancel(self) -> None:
        """Stop the steps in flight: workers start none of them any more and interrupt the
        one they run; a worker whose step has not ended CANCEL_GRACE seconds later is killed
        (and replaced). `wait` reports each of them as canceled."""
        self._canceling = True
        for worker in {worker for worker, _ in self._in_flight.values()}:
            worker.handle.cancel.remote(self._run_id)
        self._cancel_deadline = time.monotonic() + CANCEL_GRACE
        self._canceled.extend(
            StepResult(step_key=step.key, success=False, canceled=True, message="canceled")
            for step in self._dispatch.unsent()
            if not step.rerun
        )

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
        if self._store is not None:
            self._store.close()
        self._sink.flush()
        return failures

    def _cancel_in_flight(self) -> None:
        """Stop the batches in flight: no step of them starts any more; workers whose step
        does not end within CANCEL_GRACE are killed (and replaced)."""
        for worker in {worker for worker, _ in self._in_flight.values()}:
            worker.handle.cancel.remote(self._run_id)
        ready, _ = ray.wait(
            list(self._in_flight), num_returns=len(self._in_flight), timeout=CANCEL_GRACE
        )
        stuck = {self._in_flight[ref][0] for ref in set(self._in_flight) - set(ready)}
        self._commit_then_kill(stuck)
        self._in_flight.clear()

    def _opened_store(self) -> IntermediateStore:
        if self._store is None:
            root, options, backend = self._store_spec
            self._store = IntermediateStore(root, options, backend=backend)  # type: ignore[arg-type]
        return self._store

    def load(self, handle: Any) -> Any:
        if type(handle) is StoredRef:
            return self._opened_store().get(handle.key)
        output = self._dispatch.outputs[(handle.step, handle.output)]
        wire = output.wire or [Where.STORE]
        if wire[0] == Where.VALUE:
            return wire[1]
        if wire[0] == Where.PICKLED:
            return ray.cloudpickle.loads(wire[1])
        if wire[0] == Where.REF:
            return ray.get(wire[1])
        key = self._dispatch.steps[handle.step].task.output_keys[handle.output]
        return self._opened_store().get(key)
