import logging
import os
import signal
import threading
import time

import pytest

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.instance.sqlite import SqliteStorage
from solidflow.engine.instance.storage import EventLogStorage
from solidflow.errors import EventLogError


class RecordingStorage(EventLogStorage):
    """Keeps each stored batch; fails the next `failures` writes."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[EventRecord]] = []
        self.failures = failures

    def store_events(self, records):
        if self.failures:
            self.failures -= 1
            raise OSError("disk unavailable")
        self.batches.append(list(records))

    def get_events(self, run_id, after=-1, limit=None):
        stored = [r for batch in self.batches for r in batch if r.seq > after]
        return stored[:limit]

    def last_seq(self, run_id):
        return max((r.seq for batch in self.batches for r in batch), default=-1)

    def close(self):
        pass


@pytest.fixture
def storage(tmp_path):
    storage = SqliteStorage(tmp_path / "events.db")
    yield storage
    storage.close()


def test_emit_numbers_and_keeps_events_in_order():
    sink = EventSink("r1", storage=None)
    before = time.time()
    first = sink.emit(EventType.RUN_START)
    second = sink.emit(EventType.STEP_START, step="add", payload={"attempt": 1})
    third = sink.emit(EventType.LOG, timestamp=5.0)

    assert sink.events == [first, second, third]
    assert [e.seq for e in sink.events] == [0, 1, 2]
    assert {e.run_id for e in sink.events} == {"r1"}
    assert before <= first.timestamp <= time.time()
    assert third.timestamp == 5.0
    assert (second.step, second.payload) == ("add", {"attempt": 1})
    assert first.payload == {}
    sink.flush()  # nothing to write without storage


def test_events_are_written_when_the_buffer_reaches_max_batch(storage):
    sink = EventSink("r1", storage, flush_interval=3600, max_batch=10)
    for _ in range(9):
        sink.emit(EventType.LOG)
    assert storage.get_events("r1") == []
    sink.emit(EventType.LOG)
    assert [e.seq for e in storage.get_events("r1")] == list(range(10))
    sink.emit(EventType.LOG)
    assert storage.last_seq("r1") == 9


def test_the_batch_is_the_storages_own_unless_given():
    storage = RecordingStorage()
    storage.ingest_batch = 3
    sink = EventSink("r1", storage, flush_interval=3600)
    for _ in range(7):
        sink.emit(EventType.LOG)
    assert [len(batch) for batch in storage.batches] == [3, 3]
    given = RecordingStorage()
    given.ingest_batch = 3
    sink = EventSink("r2", given, flush_interval=3600, max_batch=5)
    for _ in range(7):
        sink.emit(EventType.LOG)
    assert [len(batch) for batch in given.batches] == [5]


def test_waiting_events_are_written_by_the_background_flusher():
    storage = RecordingStorage()
    sink = EventSink("flusher-test", storage, flush_interval=1.0, max_batch=1000)
    sink.emit(EventType.LOG)
    assert storage.batches == []
    deadline = time.monotonic() + 10
    while not storage.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [[e.seq for e in batch] for batch in storage.batches] == [[0]]  # no second emit
    sink.emit(EventType.LOG)
    assert len(storage.batches) == 1  # the last write was recent: this one waits
    sink.close()
    assert [[e.seq for e in batch] for batch in storage.batches] == [[0], [1]]
    assert not any(t.name == "solidflow-events-flusher-test" for t in threading.enumerate())


def test_flush_makes_every_event_durable(storage, tmp_path):
    sink = EventSink("r1", storage, flush_interval=3600)
    emitted = [sink.emit(EventType.LOG, payload={"n": n}) for n in range(5)]
    sink.flush()
    other = SqliteStorage(tmp_path / "events.db")
    try:
        assert other.get_events("r1") == emitted
    finally:
        other.close()


def test_a_failed_flush_keeps_the_events_for_the_next_one():
    storage = RecordingStorage(failures=1)
    sink = EventSink("r1", storage, flush_interval=3600)
    sink.emit(EventType.LOG)
    with pytest.raises(OSError):
        sink.flush()
    sink.emit(EventType.LOG)
    sink.flush()
    assert [[e.seq for e in batch] for batch in storage.batches] == [[0, 1]]


def test_a_raising_listener_does_not_break_the_run_and_is_reported_once(caplog):
    seen: list[int] = []

    def broken(record):
        raise RuntimeError("listener bug")

    sink = EventSink("r1", storage=None, listeners=[broken, lambda record: seen.append(record.seq)])
    with caplog.at_level(logging.WARNING, logger="solidflow"):
        for _ in range(3):
            sink.emit(EventType.LOG)

    assert seen == [0, 1, 2]
    assert len(sink.events) == 3
    reports = [r for r in caplog.records if r.name == "solidflow"]
    assert len(reports) == 1
    assert "listener bug" in reports[0].exc_text


def test_concurrent_emits_get_distinct_ordered_seqs():
    storage = RecordingStorage()
    sink = EventSink("r1", storage, max_batch=64)
    threads = [
        threading.Thread(target=lambda: [sink.emit(EventType.LOG) for _ in range(1000)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.flush()
    assert [e.seq for e in sink.events] == list(range(4000))
    assert sorted(e.seq for batch in storage.batches for e in batch) == list(range(4000))


def test_background_flusher_ends_with_a_forgotten_sink():
    import gc

    sink = EventSink("forgotten", RecordingStorage(), flush_interval=0.05)
    sink.emit(EventType.LOG)
    flusher = next(t for t in threading.enumerate() if t.name == "solidflow-events-forgotten")
    del sink
    gc.collect()
    flusher.join(timeout=5)
    assert not flusher.is_alive()


def test_a_child_forked_while_another_thread_holds_the_lock_can_still_emit():
    sink = EventSink("r1", None)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with sink._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait()
    try:
        pid = os.fork()
        if pid == 0:  # the child: the holding thread does not exist here
            try:
                sink.emit(EventType.LOG, None, {"message": "from the child"})
            finally:
                os._exit(0 if len(sink.events) == 1 else 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the sink's lock")
    finally:
        release.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0


class FullStorage(RecordingStorage):
    """An event log whose disk is full: writes of more than `room` events fail."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def store_events(self, records):
        if len(records) > self.room:
            raise EventLogError("no space left", path="events.db", reason="full")
        self.batches.append(list(records))


def test_a_failing_event_log_stops_nothing_in_the_step_and_is_reported_once():
    failures = []
    storage = FullStorage(room=1)
    sink = EventSink("r1", storage, flush_interval=3600, max_batch=2, on_failure=failures.append)
    for _ in range(5):
        sink.emit(EventType.LOG)  # a batch of 2 fails: no error reaches the emitter
    sink.flush()
    assert [error.reason for error in failures] == ["full"]
    assert sink.failure is failures[0]
    sink.emit(EventType.RUN_FAILURE)
    sink.close()  # only the end fits: it is written alone, the rest given up
    assert [[e.seq for e in batch] for batch in storage.batches] == [[5]]
    assert sink.unwritten == 5
