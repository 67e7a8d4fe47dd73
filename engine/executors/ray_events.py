"""The run's event buffer actor: workers send events to it while steps run, the driver drains
it into the run's event log; worker processes also report resource teardown through it."""

from __future__ import annotations

from typing import Any

import ray

WorkerEvent = tuple[str, str, int, str, "str | None", dict[str, Any], float]
"""(step, attempt id, index within the attempt, event type, step or None, payload, time)."""


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class RunEventBuffer:
    """Buffers worker events of one run until the driver drains them.

    If the actor is restarted its buffer is empty again; nothing is lost for good, because
    every step also returns all of its events with its result.
    """

    def __init__(self) -> None:
        self._events: list[WorkerEvent] = []
        self._over = False
        self._workers: set[str] = set()
        self._teardowns: dict[str, list[str]] = {}

    def append(self, events: list[WorkerEvent]) -> None:
        self._events.extend(events)

    def drain(self) -> list[WorkerEvent]:
        events, self._events = self._events, []
        return events

    def register_worker(self, worker: str) -> None:
        """A worker process built resources for the run and must tear them down at its end."""
        self._workers.add(worker)

    def finish(self) -> None:
        self._over = True

    def is_over(self) -> bool:
        return self._over

    def teardown_done(self, worker: str, failures: list[str]) -> None:
        self._teardowns[worker] = failures

    def teardown_state(self) -> tuple[list[str], list[str]]:
        """Workers that have not torn down yet, and the teardown failures reported so far."""
        waiting = sorted(self._workers - set(self._teardowns))
        failures = [failure for reported in self._teardowns.values() for failure in reported]
        return waiting, failures
