import dataclasses
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

from solidflow.engine.events.records import EventRecord, EventType, pack_payload, unpack_payload
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.sqlite import _MIGRATIONS, SCHEMA_VERSION, SqliteStorage
from solidflow.engine.instance.storage import DuplicateRecordError, SchemaVersionError


def event(run_id: str, seq: int, **kwargs) -> EventRecord:
    kwargs.setdefault("type", EventType.LOG)
    return EventRecord(run_id=run_id, seq=seq, timestamp=1000.0 + seq, **kwargs)


def run(run_id: str, create_time: float, status: RunStatus = RunStatus.STARTED) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        pipeline_name="hello",
        status=status,
        create_time=create_time,
        pid=1234,
        hostname="elsewhere",
    )


@pytest.fixture
def storage(tmp_path):
    storage = SqliteStorage(tmp_path / "events.db")
    yield storage
    storage.close()


def test_events_round_trip(storage):
    records = [
        event("r1", 0, type=EventType.RUN_START, payload={"pipeline": "hello"}),
        event(
            "r1",
            1,
            type=EventType.STEP_OUTPUT,
            step="add_one",
            payload={"value": [1, 2.5, None], "raw": b"\x00\xff", "nested": {"a": {"b": True}}},
        ),
        event("r1", 2, type=EventType.RUN_SUCCESS),
    ]
    storage.store_events(records)
    assert storage.get_events("r1") == records


def test_get_events_orders_by_seq_and_pages_with_after_and_limit(storage):
    storage.store_events([event("r1", seq) for seq in (5, 6, 7, 8, 9)])
    storage.store_events([event("r1", seq) for seq in (4, 3, 2, 1, 0)])
    storage.store_events([event("other", seq) for seq in range(3)])

    assert [e.seq for e in storage.get_events("r1")] == list(range(10))
    assert [e.seq for e in storage.get_events("r1", after=6)] == [7, 8, 9]
    assert [e.seq for e in storage.get_events("r1", after=2, limit=3)] == [3, 4, 5]
    assert storage.get_events("r1", after=9) == []
    assert storage.get_events("missing") == []
    assert {e.run_id for e in storage.get_events("other")} == {"other"}


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


def test_batch_with_a_duplicate_stores_nothing(storage):
    with pytest.raises(DuplicateRecordError):
        storage.store_events([event("r1", 0), event("r1", 1), event("r1", 1)])
    assert storage.get_events("r1") == []

    storage.store_events([event("r1", 0)])
    with pytest.raises(DuplicateRecordError):
        storage.store_events([event("r1", 1), event("r1", 0, payload={"again": True})])
    assert storage.get_events("r1") == [event("r1", 0)]


def test_events_are_visible_to_another_storage_on_the_same_file(tmp_path):
    writer = SqliteStorage(tmp_path / "events.db")
    writer.store_events([event("r1", seq) for seq in range(3)])
    reader = SqliteStorage(tmp_path / "events.db")
    try:
        assert [e.seq for e in reader.get_events("r1")] == [0, 1, 2]
    finally:
        writer.close()
        reader.close()


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


def test_the_latest_step_end_is_the_newest_success_or_memoized_of_its_pipeline(storage):
    storage.add_run(run("old", 1.0))
    storage.add_run(run("new", 2.0))
    storage.add_run(dataclasses.replace(run("other", 3.0), pipeline_name="elsewhere"))
    storage.store_events([event("old", 0, type=EventType.STEP_SUCCESS, step="a")])
    storage.store_events(
        [
            event("new", 0, type=EventType.STEP_MEMOIZED, step="a"),
            event("new", 1, type=EventType.STEP_OUTPUT, step="a"),
            event("new", 2, type=EventType.STEP_SUCCESS, step="b"),
        ]
    )
    storage.store_events([event("other", 0, type=EventType.STEP_SUCCESS, step="a")])
    with storage._locked() as conn:
        statements: list[str] = []
        conn.set_trace_callback(statements.append)  # SQL with the bound values filled in
    try:
        latest = storage.latest_step_end("hello", "a")
    finally:
        conn.set_trace_callback(None)
    assert (latest.run_id, latest.type) == ("new", EventType.STEP_MEMOIZED)
    assert storage.latest_step_end("hello", "c") is None
    [query] = statements
    with storage._locked() as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
    assert any("step_ends" in row[-1] for row in plan)  # the partial index serves it


def test_a_version_2_log_gets_the_step_ends_index(tmp_path):
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    for statements in _MIGRATIONS[:2]:
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
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
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


def test_runs_round_trip_and_status_update(storage):
    record = RunRecord(
        run_id="r1",
        pipeline_name="hello",
        status=RunStatus.STARTED,
        create_time=9.0,
        start_time=10.0,
        tags={"team": "data"},
        mode="test",
        target="examples/hello.py:hello",
        run_config={"solids": {"add": {"config": {"n": 1}}}},
        parent_run_id="r0",
        root_run_id="r0",
        step_keys=("add", "etl.clean"),
        solid_selection=("*add",),
        executor="ray",
        memoize=True,
        external_outputs=(("load", "result", "ab12"),),
        pid=42,
        hostname="host",
        process_start="12345",
        heartbeat=11.0,
    )
    storage.add_run(record)
    assert storage.get_run("r1") == record
    assert storage.get_run("missing") is None

    assert storage.update_run("r1", status=RunStatus.SUCCESS, end_time=20.0)
    updated = storage.get_run("r1")
    assert updated == dataclasses.replace(record, status=RunStatus.SUCCESS, end_time=20.0)
    assert updated.run_config == record.run_config

    with pytest.raises(DuplicateRecordError):
        storage.add_run(record)
    with pytest.raises(KeyError):
        storage.update_run("missing", status=RunStatus.FAILURE, end_time=1.0)
    with pytest.raises(ValueError, match="pipeline_name"):
        storage.update_run("r1", pipeline_name="other")


def test_a_run_changes_only_from_an_expected_status(storage):
    storage.add_run(run("r1", 1.0, RunStatus.QUEUED))
    assert storage.update_run(
        "r1", expected=[RunStatus.QUEUED], status=RunStatus.STARTING, heartbeat=5.0
    )
    starting = storage.get_run("r1")
    assert (starting.status, starting.heartbeat) == (RunStatus.STARTING, 5.0)
    # a second launch of the same run finds it STARTING: nothing changes
    assert not storage.update_run("r1", expected=[RunStatus.QUEUED], status=RunStatus.STARTING)
    assert not storage.update_run("r1", expected=[RunStatus.QUEUED], heartbeat=9.0)
    assert storage.get_run("r1") == starting
    with pytest.raises(KeyError):
        storage.update_run("missing", expected=[RunStatus.QUEUED], heartbeat=1.0)


def test_a_version_3_log_keeps_its_runs_readable(tmp_path):
    """Runs recorded before run requests existed read back with their fields, and the log
    takes the new ones."""
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    for statements in _MIGRATIONS[:3]:
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


def test_get_runs_is_newest_first_with_status_filter_and_limit(storage):
    storage.add_run(run("old", 1.0, RunStatus.SUCCESS))
    storage.add_run(run("new", 3.0, RunStatus.FAILURE))
    storage.add_run(run("mid", 2.0, RunStatus.SUCCESS))
    storage.add_run(run("mid-later", 2.0, RunStatus.STARTED))

    assert [r.run_id for r in storage.get_runs()] == ["new", "mid-later", "mid", "old"]
    assert [r.run_id for r in storage.get_runs(RunStatus.SUCCESS)] == ["mid", "old"]
    assert [r.run_id for r in storage.get_runs(limit=2)] == ["new", "mid-later"]
    assert storage.get_runs(RunStatus.CANCELED) == []
    both = [RunStatus.STARTED, RunStatus.FAILURE]
    assert [r.run_id for r in storage.get_runs(both)] == ["new", "mid-later"]


def test_a_packed_payload_is_stored_as_packed_and_reads_back_equal(storage):
    payload = {"output": "result", "metadata": {"rows": 3, "columns": ["a", "b"]}}
    packed = event(
        "r1", 0, type=EventType.STEP_OUTPUT, step="s", packed_payload=pack_payload(payload)
    )
    plain = event("r1", 0, type=EventType.STEP_OUTPUT, step="s", payload=payload)
    assert packed == plain
    assert packed.packed_payload == plain.packed_payload
    storage.store_events([packed])
    (stored,) = storage.get_events("r1")
    assert stored.payload == payload
    assert stored == plain


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
