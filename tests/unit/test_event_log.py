import datetime
import multiprocessing
import os
import pickle
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solidflow.engine.events.records import (
    EventRecord,
    EventType,
    pack_payload,
    stored_record,
    unpack_payload,
)
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.sqlite import SCHEMA_VERSION, SqliteStorage
from solidflow.engine.instance.sqlite_schema import MIGRATIONS
from solidflow.engine.instance.storage import SchemaVersionError

from ..backends import event, run


@pytest.fixture
def storage(tmp_path):
    storage = SqliteStorage(tmp_path / "events.db")
    yield storage
    storage.close()


@given(
    seqs=st.sets(st.integers(0, 60), max_size=30),
    after=st.integers(-1, 61),
    limit=st.none() | st.integers(0, 10),
)
def test_get_events_matches_a_sorted_filter(seqs, after, limit):
    with tempfile.TemporaryDirectory() as home:
        storage = SqliteStorage(Path(home) / "events.db")
        storage.store_events([event("r", seq) for seq in seqs])
        expected = sorted(seq for seq in seqs if seq > after)[:limit]
        assert [e.seq for e in storage.get_events("r", after, limit)] == expected
        assert storage.last_seq("r") == max(seqs, default=-1)
        storage.close()


def test_file_is_created_with_wal_and_schema_version(tmp_path):
    path = tmp_path / "deep" / "er" / "events.db"
    storage = SqliteStorage(path)
    storage.store_events([event("r1", 0)])
    storage.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_the_latest_step_end_is_found_through_the_partial_index(storage):
    storage.add_run(run("r1", 1.0))
    storage.store_events([event("r1", 0, type=EventType.STEP_SUCCESS, step="a")])
    with storage._locked() as conn:
        statements: list[str] = []
        conn.set_trace_callback(statements.append)  # SQL with the bound values filled in
    try:
        latest = storage.latest_step_end("hello", "a")
    finally:
        conn.set_trace_callback(None)
    assert latest.run_id == "r1"
    [query] = statements
    with storage._locked() as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
    assert any("step_ends" in row[-1] for row in plan)  # the partial index serves it


def test_a_version_2_log_gets_the_step_ends_index(tmp_path):
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    storage = SqliteStorage(path)
    storage.store_events([event("r1", 0, type=EventType.STEP_SUCCESS, step="a")])
    storage.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert "step_ends" in indexes
        assert "events_by_step" not in indexes
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    finally:
        conn.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    storage = SqliteStorage(path)
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        storage.get_events("r1")


def _write_run(path: str, run_id: str, count: int, batch: int) -> None:
    storage = SqliteStorage(path)
    for start in range(0, count, batch):
        storage.store_events([event(run_id, seq) for seq in range(start, start + batch)])
    storage.close()


def test_two_processes_write_the_same_file_concurrently(tmp_path):
    path = str(tmp_path / "events.db")
    SqliteStorage(path).close()  # create the schema once, as an instance would
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_run, args=(path, f"run-{n}", 2000, batch))
        for n, batch in ((0, 1), (1, 7))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    storage = SqliteStorage(path)
    try:
        for n, count in ((0, 2000), (1, 2002)):
            assert [e.seq for e in storage.get_events(f"run-{n}")] == list(range(count))
    finally:
        storage.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_storage_reconnects_in_a_forked_child(storage):
    storage.store_events([event("r1", 0)])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            storage.store_events([event("r1", 1)])
            code = 0 if [e.seq for e in storage.get_events("r1")] == [0, 1] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    storage.store_events([event("r1", 2)])
    assert [e.seq for e in storage.get_events("r1")] == [0, 1, 2]


def test_a_version_3_log_keeps_its_runs_readable(tmp_path):
    """Runs recorded before run requests existed read back with their fields, and the log
    takes the new ones."""
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "old",
            "hello",
            "SUCCESS",
            10.0,
            12.5,
            pack_payload({"team": "data"}),
            "default",
            "hello.py:hello",
            pack_payload({"solids": {}}),
            None,
            None,
            42,
            "host",
            "777",
        ),
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    storage = SqliteStorage(path)
    try:
        [old] = storage.get_runs()
        assert old == RunRecord(
            run_id="old",
            pipeline_name="hello",
            status=RunStatus.SUCCESS,
            create_time=10.0,
            start_time=10.0,
            end_time=12.5,
            tags={"team": "data"},
            target="hello.py:hello",
            run_config={"solids": {}},
            pid=42,
            hostname="host",
            process_start="777",
        )
        storage.add_run(run("new", 20.0, RunStatus.QUEUED))
        assert [r.run_id for r in storage.get_runs()] == ["new", "old"]
    finally:
        storage.close()


def test_a_payload_msgpack_cannot_encode_is_packed_in_its_plain_form():
    record = event("r1", 0, payload={"when": datetime.date(2026, 1, 2), "count": 3})
    assert unpack_payload(record.packed_payload) == {
        "when": "datetime.date(2026, 1, 2)",
        "count": 3,
    }
    assert record.payload["when"] == datetime.date(2026, 1, 2)  # the record keeps what it got


def test_records_are_immutable_and_survive_pickling():
    packed = event("r1", 4, step="s", packed_payload=pack_payload({"message": "hi"}))
    plain = event("r1", 5, payload={"when": datetime.date(2026, 1, 2)})
    with pytest.raises(AttributeError, match="immutable"):
        packed.seq = 5  # type: ignore[misc]
    for record in (packed, plain):
        copy = pickle.loads(pickle.dumps(record))
        assert copy == record
    assert pickle.loads(pickle.dumps(packed)).message == "hi"


def test_a_stored_record_is_the_record_its_row_describes() -> None:
    packed = pack_payload({"level": "INFO", "message": "hello"})
    record = stored_record("run-1", 3, 12.5, "LOG", "load", packed)
    expected = EventRecord(
        run_id="run-1",
        seq=3,
        timestamp=12.5,
        type=EventType.LOG,
        step="load",
        payload={"level": "INFO", "message": "hello"},
    )
    assert record == expected and record.packed_payload == packed
    assert pickle.loads(pickle.dumps(record)) == expected
    with pytest.raises(AttributeError):
        record.seq = 4  # type: ignore[misc]
