"""What the Ray executor does when a step worker dies, and when a run stops steps in flight:
the steps of a dead worker's batches are sent again (the ones that started, as their next
attempt, with the events its journal kept) and outputs lost with it are made again; a cancel
interrupts the steps in flight, and a worker whose step outlives it is killed once it
committed what it stored."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.configs import RayConfig
from solidflow.engine.executors.ray.connection import ClusterWatch
from solidflow.engine.executors.ray.dispatch import Dispatcher
from solidflow.engine.executors.ray.pool import Worker, WorkerPool
from solidflow.engine.executors.ray.step_tracking import DONE, Step
from solidflow.engine.step.task import StepResult
from solidflow.errors import ExecutorError

FINISH_TIMEOUT = 120.0
"""Seconds the end of a run waits for workers to commit its outputs and tear down."""
CANCEL_GRACE = 5.0
"""Seconds a cancel waits for steps running now to end before it kills their workers."""
JOURNAL_TIMEOUT = 30.0
"""Seconds to wait for a dead worker's replacement to read the dead worker's journal."""


class WorkerFaults(ABC):
    """The part of RayActorExecutor that handles workers that die, and cancels, on the
    executor's state below."""

    _config: RayConfig
    _sink: EventSink
    _run_id: str
    _dispatch: Dispatcher
    _in_flight: dict[Any, tuple[Worker, list[Step]]]
    """Batches sent: the worker and steps of each, by the ref of its result."""
    _workers: dict[WorkerPool, list[Worker]]
    _watch: ClusterWatch | None
    _cancel_deadline: float | None
    _live: dict[Worker, set[tuple[str | None, bytes, float]]]
    """The (step, payload, time) of the events each worker sent while its steps ran."""
    _canceling: bool
    _canceled: list[StepResult]

    @abstractmethod
    def _deliver(self, events: list[list[Any]]) -> None:
        """Emit events that a worker sent."""

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
        delivered = self._live.pop(worker, set())
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
                    journaled = journal.get((step.key, step.attempt), [])
                    started = bool(journaled)  # events delivered while it ran are not again
                    events = [e for e in journaled if (e[1], e[2], e[3]) not in delivered]
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
