"""The event buffer actor of a driver process: workers send events to it while steps run, the
driver drains them into each run's event log; worker processes also report resource teardown
through it. One actor serves all the runs of its driver process, each under its run id."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ray

WorkerEvent = list[Any]
"""[step, attempt id, index within the attempt, event type, step or None, payload packed by
`pack_payload`, time]: a list, not a tuple, so that Ray serialises events with msgpack
instead of pickle."""

FORGOTTEN_KEPT = 10_000
"""Ended runs the actor remembers, so that late calls about them do not bring them back."""


@dataclass(slots=True)
class _RunState:
    events: list[WorkerEvent] = field(default_factory=list)
    over: bool = False
    workers: set[str] = field(default_factory=set)
    teardowns: dict[str, list[str]] = field(default_factory=dict)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class RunEventBuffer:
    """Buffers the worker events of each run until the driver drains them.

    If the actor is restarted its buffers are empty again; nothing is lost for good, because
    every step also returns all of its events with its result.
    """

    def __init__(self) -> None:
        self._runs: dict[str, _RunState] = {}
        self._forgotten: OrderedDict[str, None] = OrderedDict()

    def _run(self, run_id: str) -> _RunState:
        if run_id in self._forgotten:
            return _RunState(over=True)  # a late call about an ended run: not kept
        return self._runs.setdefault(run_id, _RunState())

    def append(self, run_id: str, events: list[WorkerEvent]) -> None:
        self._run(run_id).events.extend(events)

    def drain(self, run_id: str) -> list[WorkerEvent]:
        state = self._run(run_id)
        events, state.events = state.events, []
        return events

    def register_worker(self, run_id: str, worker: str) -> None:
        """A worker process built resources for the run and must tear them down at its end."""
        self._run(run_id).workers.add(worker)

    def finish(self, run_id: str) -> None:
        self._run(run_id).over = True

    def is_over(self, run_id: str) -> bool:
        return self._run(run_id).over

    def teardown_done(self, run_id: str, worker: str, failures: list[str]) -> None:
        self._run(run_id).teardowns[worker] = failures

    def teardown_state(self, run_id: str) -> tuple[list[str], list[str]]:
        """Workers that have not torn down yet, and the teardown failures reported so far."""
        state = self._run(run_id)
        waiting = sorted(state.workers - set(state.teardowns))
        failures = [failure for reported in state.teardowns.values() for failure in reported]
        return waiting, failures

    def forget(self, run_id: str) -> None:
        """The run is over and its driver has all it needs: drop what is kept about it."""
        self._runs.pop(run_id, None)
        self._forgotten[run_id] = None
        while len(self._forgotten) > FORGOTTEN_KEPT:
            self._forgotten.popitem(last=False)


_BUFFERS: dict[tuple[str, str], Any] = {}
"""The handles of this driver's event buffer actors; they keep the actors alive between runs
(Ray ends an actor when the last handle its creator holds goes)."""


def event_buffer(namespace: str) -> tuple[str, Any]:
    """The name and handle of this driver's event buffer actor in `namespace`, started on
    first use and kept for the driver's later runs (it ends with the driver)."""
    name = f"solidflow-events-{ray.get_runtime_context().get_job_id()}"
    handle = _BUFFERS.get((name, namespace))
    if handle is None:
        # Ray's types leave @ray.remote classes as the plain class, without .options.
        options = RunEventBuffer.options(name=name, namespace=namespace)  # type: ignore[attr-defined]
        handle = options.remote()
        _BUFFERS[(name, namespace)] = handle
    return name, handle
