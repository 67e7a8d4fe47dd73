"""The event sink: numbers, keeps, stores and broadcasts the events of one run."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.errors import EventLogError

logger = logging.getLogger("solidflow")

Listener = Callable[[EventRecord], None]
DEFAULT_BATCH = 1000


class EventWriter(Protocol):
    """Where a sink writes events: an event log storage, or anything with its write method."""

    def store_events(self, records: Sequence[EventRecord]) -> None: ...


class EventSink:
    """The single writer of one run's events in one process.

    Events are numbered 0, 1, 2, ... in emit order, kept in memory, handed to every listener
    at once and buffered for storage. The buffer is written when it holds `max_batch` records,
    when an emit finds that `flush_interval` seconds passed since the last write, and by a
    background thread when events wait longer than that (so a long step's log lines reach
    readers while it runs). Call `flush` to make every emitted event durable, and `close`
    when the run ends.

    Args:
        run_id: the run whose events this sink writes.
        storage: where events are stored; None keeps them in memory only.
        listeners: called with each event, in order, in the emitting thread. A listener that
            raises is logged once and otherwise ignored; listeners must be quick.
        flush_interval: most seconds an event waits in the buffer.
        max_batch: most records buffered before they are written; by default the storage's
            `ingest_batch` (a storage whose every write waits for a commit on a server wants
            larger batches), else DEFAULT_BATCH.
        on_failure: called once, with the error, when the event log fails (EventLogError:
            its disk is full, its file damaged or read-only); from then on a failed write
            keeps the events buffered without raising, and is tried again at most every
            `flush_interval` seconds (see `failure`).
    """

    def __init__(
        self,
        run_id: str,
        storage: EventWriter | None,
        listeners: Sequence[Listener] = (),
        flush_interval: float = 0.2,
        max_batch: int | None = None,
        on_failure: Callable[[EventLogError], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.failure: EventLogError | None = None
        """The first error of the event log, None while every write succeeded."""
        self.unwritten = 0
        """How many events `close` gave up after the event log failed."""
        self._on_failure = on_failure
        self._storage = storage
        self._listeners = tuple(listeners)
        self._broken_listeners: set[int] = set()
        self._flush_interval = flush_interval
        self._max_batch = max_batch or int(getattr(storage, "ingest_batch", None) or DEFAULT_BATCH)
        self._events: list[EventRecord] = []
        self._buffer: list[EventRecord] = []
        self._last_flush = time.monotonic()
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    @property
    def events(self) -> list[EventRecord]:
        """Every event emitted so far, in seq order (the sink's own list: do not modify it)."""
        return self._events

    def emit(
        self,
        type: EventType,
        step: str | None = None,
        payload: dict[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> EventRecord:
        """Record a new event of the run and return it."""
        return self._record(type, step, timestamp, payload, None)

    def emit_packed(
        self, type: EventType, step: str | None, packed_payload: bytes, timestamp: float
    ) -> EventRecord:
        """`emit` an event whose payload `pack_payload` packed elsewhere (it stays packed)."""
        return self._record(type, step, timestamp, None, packed_payload)

    def _record(
        self,
        type: EventType,
        step: str | None,
        timestamp: float | None,
        payload: dict[str, Any] | None,
        packed_payload: bytes | None,
    ) -> EventRecord:
        if self._pid != os.getpid():
            self._forked_child()
        with self._lock:
            record = EventRecord(
                run_id=self.run_id,
                seq=len(self._events),
                timestamp=time.time() if timestamp is None else timestamp,
                type=type,
                step=step,
                payload=payload,
                packed_payload=packed_payload,
            )
            self._events.append(record)
            for index, listener in enumerate(self._listeners):
                try:
                    listener(record)
                except Exception:
                    self._report_listener_error(index, listener)
            if self._storage is not None:
                if self._flusher is None:
                    self._start_flusher()
                self._buffer.append(record)
                waited = time.monotonic() - self._last_flush >= self._flush_interval
                if waited or (len(self._buffer) >= self._max_batch and self.failure is None):
                    self.flush()
            return record

    def flush(self) -> None:
        """Write the buffered events; afterwards every emitted event is durable (unless the
        event log failed: see `failure`).

        If the storage raises, the events stay buffered and the next flush retries them; an
        EventLogError is not raised but kept in `failure` (and given to `on_failure`).
        """
        with self._lock:
            self._last_flush = time.monotonic()
            if self._buffer and self._storage is not None:
                try:
                    self._storage.store_events(self._buffer)
                except EventLogError as error:
                    self._failed(error)
                    return
                self._buffer = []

    def _failed(self, error: EventLogError) -> None:
        if self.failure is None:
            self.failure = error
            if self._on_failure is not None:
                self._on_failure(error)

    def close(self) -> None:
        """Write what is buffered and stop the background flusher. If the event log fails,
        the last event (the run's end) is tried alone, and the others are given up
        (`unwritten` counts them)."""
        self._closed.set()
        if self._flusher is not None:
            self._flusher.join()
        self.flush()
        with self._lock:
            if self._buffer and self._storage is not None:
                self.unwritten, self._buffer = len(self._buffer) - 1, self._buffer[-1:]
                self.flush()
                self.unwritten += len(self._buffer)
                self._buffer = []

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=_flush_periodically,
            args=(weakref.ref(self), self._closed, self._flush_interval),
            name=f"solidflow-events-{self.run_id}",
            daemon=True,
        )
        self._flusher.start()

    def _flush_if_waiting(self) -> None:
        if self._buffer and time.monotonic() - self._last_flush >= self._flush_interval:
            try:
                self.flush()
            except Exception:  # the next flush retries; the run's own flushes raise
                logger.warning("background flush of run %s failed", self.run_id, exc_info=True)

    def _forked_child(self) -> None:
        """In a process forked from the run's, events cannot join the run's numbering: they
        go to Python logging instead of the event log."""
        logger.warning(
            "events of run %s emitted in forked process %d go to Python logging only",
            self.run_id,
            os.getpid(),
        )
        self._pid = os.getpid()
        self._lock = threading.RLock()  # another thread of the parent may have held it
        self._storage = None
        self._flusher = None
        self._buffer = []
        self._listeners = (_log_event,)

    def _report_listener_error(self, index: int, listener: Listener) -> None:
        if index in self._broken_listeners:
            return
        self._broken_listeners.add(index)
        logger.warning(
            "event listener %r raised on an event of run %s; its later errors are not reported",
            listener,
            self.run_id,
            exc_info=True,
        )


def _flush_periodically(
    sink_ref: weakref.ref[EventSink], closed: threading.Event, interval: float
) -> None:
    """The background flusher; it holds the sink weakly and ends with it or on close."""
    while not closed.wait(interval):
        sink = sink_ref()
        if sink is None:
            return
        sink._flush_if_waiting()
        del sink


def _log_event(record: EventRecord) -> None:
    logger.info("%s %s %s", record.type.value, record.step or "", record.payload)
