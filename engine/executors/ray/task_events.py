"""The events of a run's step tasks, delivered to the run's sink: streamed through the event
buffer actor while steps run, and carried by each task's outcome; each event once, in the
order of its attempt."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from solidflow.engine.events.records import EVENT_TYPES, EventType, unpack_payload
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.ray.events import WorkerEvent

DRAIN_INTERVAL = 0.2
"""Seconds between two reads of the event buffer actor while steps run."""


class TaskEventRelay:
    """Emits the events of one run's step tasks that were not emitted yet; a later attempt at
    a step than the first seen means its worker died (a STEP_RETRY says so)."""

    def __init__(self, run_id: str, actor: Any, sink: EventSink) -> None:
        self._run_id = run_id
        self._actor = actor
        self._sink = sink
        self._delivered: dict[tuple[str, str], int] = {}
        self._attempts: dict[str, list[str]] = {}
        self._last_drain = 0.0
        self._drain_ref: Any = None
        self.started: set[str] = set()
        """Steps whose STEP_START was delivered."""
        self.failed: set[str] = set()
        """Steps whose STEP_FAILURE was delivered."""

    def drain_in_background(self) -> None:
        """Deliver what the last drain call returned, and ask again every DRAIN_INTERVAL,
        without ever blocking on the actor (it may still be starting)."""
        if self._drain_ref is not None and ray.wait([self._drain_ref], timeout=0)[0]:
            with contextlib.suppress(RayError):  # a restarted actor; outcomes carry the events
                self.deliver(ray.get(self._drain_ref))
            self._drain_ref = None
        if self._drain_ref is None and time.monotonic() - self._last_drain >= DRAIN_INTERVAL:
            self._drain_ref = self._actor.drain.remote(self._run_id)
            self._last_drain = time.monotonic()

    def drain(self) -> None:
        """Deliver what the event buffer actor holds now (waits for it)."""
        self._last_drain = time.monotonic()
        try:
            events = ray.get(self._actor.drain.remote(self._run_id), timeout=30)
        except (RayError, GetTimeoutError):
            return  # the actor restarts; every step's events also come with its outcome
        self.deliver(events)
        self._sink.flush()

    def deliver(self, events: list[WorkerEvent]) -> None:
        """Emit the worker events not emitted yet, in each attempt's order."""
        for step_key, attempt, index, kind, step, packed, timestamp in events:
            delivered = self._delivered.get((step_key, attempt))
            if delivered is None:
                delivered = self._new_attempt(step_key, attempt, packed)
            if index < delivered:
                continue
            self._delivered[(step_key, attempt)] = index + 1
            if kind == "STEP_START":
                self.started.add(step_key)
            elif kind == "STEP_FAILURE":
                self.failed.add(step_key)
            self._sink.emit_packed(EVENT_TYPES[kind], step, packed, timestamp)

    def _new_attempt(self, step_key: str, attempt: str, packed: bytes) -> int:
        """Note the first event of an attempt; a later attempt at a step means its worker died."""
        attempts = self._attempts.setdefault(step_key, [])
        if step_key and attempts:  # "" holds resource teardown events
            payload = unpack_payload(packed)
            self._sink.emit(
                EventType.STEP_RETRY,
                step_key,
                {
                    "message": f"the worker running attempt {attempts[-1]} of solid "
                    f"'{step_key}' died; retrying on worker {payload.get('pid')} of node "
                    f"{payload.get('node_id')}",
                    "reason": "worker_died",
                },
            )
        attempts.append(attempt)
        return 0
