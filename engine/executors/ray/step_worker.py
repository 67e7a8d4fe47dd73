"""The step-worker actor: a long-lived Ray actor that loads solids once, keeps each run's
resources and outputs, and runs the batches of steps the driver sends it, in order."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from typing import Any

import ray
from ray.exceptions import RayError

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.executors.interrupts import (
    CancelInterrupt,
    clear_interrupt,
    mark_interrupted,
)
from solidflow.engine.executors.ray.journal import Journal, read_journal
from solidflow.engine.executors.ray.stores import open_store
from solidflow.engine.executors.ray.wire import Status, Where, WireResult, WireStep
from solidflow.engine.executors.ray.worker_run import WorkerRun, WorkerRunSetup
from solidflow.engine.step.resources import SharedResources

CONTROL = "control"
"""The concurrency group of the calls that must not wait for a batch: where, cancel, live
events. Batches and run ends run one at a time, in the order they were sent."""


def _fetch(steps: list[WireStep]) -> dict[Any, Any]:
    """The values of the object refs that the steps' input handles name, fetched at once;
    those that cannot be fetched are left out."""
    refs = [handle[1] for step in steps for handle in step[4] if handle[0] == Where.REF]
    if not refs:
        return {}
    try:
        return dict(zip(refs, ray.get(refs), strict=True))
    except RayError:
        fetched = {}
        for ref in refs:
            with contextlib.suppress(RayError):
                fetched[ref] = ray.get(ref)
        return fetched


class StepWorker:
    """Runs steps for the runs of one driver. Not thread-safe except for the CONTROL calls,
    which only read or set flags."""

    def __init__(self) -> None:
        self._node_id = ray.get_runtime_context().get_node_id()
        self._solids: dict[int, SolidDefinition] = {}
        self._runs: dict[str, WorkerRun] = {}
        self._lock = threading.Lock()
        self._journal = Journal()
        self._shared = SharedResources()
        self._batch_thread: int | None = None

    @ray.method(concurrency_group=CONTROL)
    def where(self) -> list[Any]:
        """[node id, pid] of this worker."""
        return [self._node_id, os.getpid()]

    def run_batch(
        self,
        run_id: str,
        setup: WorkerRunSetup | None,
        solids: dict[int, SolidDefinition] | None,
        steps: list[WireStep],
        exports: list[list[str]],
        releases: list[list[str]],
    ) -> list[Any]:
        """Run `steps` in order and return [their WireResults, [[step, output, ref], ...] for
        `exports`, seconds spent]. `setup` comes with the first batch of a run, `solids` with
        the first batch that needs them; `releases` are cached outputs no longer needed."""
        started = time.perf_counter()
        self._batch_thread = threading.get_ident()
        clear_interrupt(self._batch_thread)
        run = self._run(run_id, setup)
        if solids:
            self._solids.update(solids)
        if releases:
            run.release(releases)
        fetched = _fetch(steps)
        results: list[WireResult] = []
        for step in steps:
            if run.canceled:
                results.append([step[0], Status.CANCELED, [], None, None, None, None, step[10]])
                continue
            results.append(run.run(self._solids[step[1]], step, fetched))
        if run.writer is not None:
            run.writer.end_batch()
        exported = run.export(exports) if exports else []
        return [results, exported, time.perf_counter() - started]

    def _run(self, run_id: str, setup: WorkerRunSetup | None) -> WorkerRun:
        run = self._runs.get(run_id)
        if run is None:
            if setup is None:
                raise RuntimeError(f"run {run_id} was not set up on this worker")
            store = open_store(setup.store_root, setup.store_options, setup.store_backend)
            run = WorkerRun(setup, store, self._node_id, self._journal, self._shared)
            with self._lock:
                self._runs[run_id] = run
        return run

    def finish_run(self, run_id: str) -> list[Any]:
        """The run is over on this worker: commit its outputs and tear its resources down.
        Returns [commit failures, events, teardown failures]."""
        with self._lock:
            run = self._runs.pop(run_id, None)
            if not self._runs:
                self._journal.clear()
        if run is None:
            return [[], [], []]
        failures = run.writer.commit() if run.writer is not None else []
        teardown = run.resources.teardown()
        return [failures, run.take_events(), teardown]

    @ray.method(concurrency_group=CONTROL)
    def journal_of(self, node_id: str, pid: int, run_id: str) -> list[list[Any]] | None:
        """What the dead worker `pid` of node `node_id` journaled for the run: [[step, attempt,
        events], ...]; None if this worker is on another node (the journal is out of reach)."""
        if node_id != self._node_id:
            return None
        return [
            [step, attempt, events] for (step, attempt), events in read_journal(pid, run_id).items()
        ]

    @ray.method(concurrency_group=CONTROL)
    def cancel(self, run_id: str) -> None:
        """Run no further step of the run, and interrupt the one running now as Ctrl-C
        would (code that runs in C, such as a sleep, notices when it returns)."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is not None:
            run.canceled = True
            thread = self._batch_thread
            if thread is not None and mark_interrupted(thread) and run.running is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread), ctypes.py_object(CancelInterrupt)
                )

    @ray.method(concurrency_group=CONTROL)
    def commit_now(self, run_id: str) -> list[str]:
        """Commit what the run's steps stored so far, while a step may still run (before the
        worker is killed); the failures."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.writer is None:
            return []
        return run.writer.commit()

    @ray.method(concurrency_group=CONTROL)
    def drain_live(self, run_id: str) -> list[Any]:
        """[step, attempt] running now (or None) and its events not sent yet."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            return [None, []]
        running, events = run.drain_live()
        return [running, events]


# Ray's overloads of ray.remote leave out concurrency_groups, which actors take.
RemoteStepWorker = ray.remote(concurrency_groups={CONTROL: 1})(StepWorker)  # type: ignore[call-overload]
"""The actor class; pools create it with the options of their shape."""
