"""One suite for every instance storage backend (SQLite and PostgreSQL): events, runs, the
index of output keys per run, leases, waiting for events, schema versions, schedules, ticks
and step claims."""

import dataclasses
import itertools
import threading
import time

import pytest

from solidflow.benchmarks.old_logs import INDEXED_FROM, old_event, old_log
from solidflow.engine.events.records import EventRecord, EventType, pack_payload
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.storage import DuplicateRecordError
from solidflow.engine.instance.ticks import ScheduleState, ScheduleStatus, TickRecord, TickStatus

from ..backends import event, run

pytestmark = pytest.mark.xdist_group("postgres")


def output(run_id: str, seq: int, key: str, *, stored: bool = True) -> EventRecord:
    payload = {"output": "result", "key": key, "stored": stored}
    return event(run_id, seq, type=EventType.STEP_OUTPUT, step="s", payload=payload)


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
    assert (storage.last_seq("r1"), storage.last_seq("missing")) == (9, -1)


def test_batch_with_a_duplicate_stores_nothing(storage):
    with pytest.raises(DuplicateRecordError):
        storage.store_events([event("r1", 0), event("r1", 1), event("r1", 1)])
    assert storage.get_events("r1") == []

    storage.store_events([event("r1", 0)])
    with pytest.raises(DuplicateRecordError):
        storage.store_events([event("r1", 1), event("r1", 0, payload={"again": True})])
    assert storage.get_events("r1") == [event("r1", 0)]


def test_what_one_storage_writes_another_reads(backend):
    writer, reader = backend.open(), backend.open()
    writer.store_events([event("r1", seq) for seq in range(3)])
    writer.add_run(run("r1", 1.0))
    assert [e.seq for e in reader.get_events("r1")] == [0, 1, 2]
    assert reader.get_run("r1") == run("r1", 1.0)


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
    latest = storage.latest_step_end("hello", "a")
    assert (latest.run_id, latest.type) == ("new", EventType.STEP_MEMOIZED)
    assert storage.latest_step_end("hello", "c") is None


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
    storage.store_events([packed])
    (stored,) = storage.get_events("r1")
    assert stored.payload == payload
    assert stored == plain


def test_the_output_keys_of_runs_are_indexed_from_their_events(storage):
    storage.add_run(run("r1", 1.0))
    storage.add_run(run("r2", 2.0))
    external = {"external": [["load", "result", "aa01"]]}
    storage.store_events(
        [
            event("r1", 0, type=EventType.RUN_START, payload=external),
            output("r1", 1, "bb02"),
            output("r1", 2, "cc03", stored=False),  # not stored: names no output
            event("r1", 3, type=EventType.LOG, payload={"key": "dd04"}),
        ]
    )
    memoized = {"output_keys": {"result": "bb02", "other": "ee05"}}
    storage.store_events([event("r2", 0, type=EventType.STEP_MEMOIZED, step="s", payload=memoized)])
    assert storage.output_keys(["r1"]) == {"aa01", "bb02"}
    assert storage.output_keys(["r1", "r2", "missing"]) == {"aa01", "bb02", "ee05"}
    assert storage.output_keys([]) == set()
    assert storage.referenced_keys(["aa01", "cc03", "dd04", "ee05"]) == {"aa01", "ee05"}
    assert storage.referenced_keys(["aa01", "bb02", "ee05"], excluding=["r1"]) == {"bb02", "ee05"}
    assert storage.referenced_keys(["aa01", "bb02", "ee05"], excluding=["r2"]) == {"aa01", "bb02"}


def test_deleting_a_run_deletes_its_events_and_output_keys_only(storage):
    for run_id, key in (("r1", "aa01"), ("r2", "bb02")):
        storage.add_run(run(run_id, 1.0))
        storage.store_events([event(run_id, 0), output(run_id, 1, key)])
    storage.store_events([output("r2", 2, "aa01")])

    assert storage.delete_run("r1") is True
    assert storage.get_run("r1") is None
    assert storage.get_events("r1") == []
    assert storage.output_keys(["r1"]) == set()
    assert storage.referenced_keys(["aa01", "bb02"]) == {"aa01", "bb02"}  # r2 read aa01 too
    assert [e.seq for e in storage.get_events("r2")] == [0, 1, 2]
    assert storage.delete_run("r1") is False


def test_leases_are_stored_replaced_and_released(backend):
    first, second = backend.open(), backend.open()
    with first.take_lease("r1", ["aa01", "bb02", "aa01"]):
        pass
    with second.take_lease("r2", ["cc03"]):
        pass
    assert (
        first.stored_leases()
        == second.stored_leases()
        == {
            "r1": {"aa01", "bb02"},
            "r2": {"cc03"},
        }
    )
    with first.take_lease("r1", ["dd04"]):
        pass
    second.release_lease("r2")
    second.release_lease("never")
    with second.held_leases() as held:
        assert held == {"r1": {"dd04"}}


def test_no_lease_is_taken_while_the_leases_are_held(backend):
    """gc holds the leases while it deletes; a run taking one (from another storage, as from
    another process or host) waits until gc lets go, and gc never waits for a lease being
    taken to be looked up."""
    collector, runner = backend.open(), backend.open()
    took = threading.Event()

    def take() -> None:
        with runner.take_lease("r1", ["aa01"]):
            took.set()

    with collector.held_leases() as held:
        assert held == {}
        taker = threading.Thread(target=take)
        taker.start()
        assert not took.wait(0.5)
    assert took.wait(10)
    taker.join()
    assert collector.stored_leases() == {"r1": {"aa01"}}

    looking_up = threading.Event()
    release = threading.Event()

    def look_up() -> None:
        with runner.take_lease("r2", ["bb02"]):
            looking_up.set()
            release.wait(10)

    taker = threading.Thread(target=look_up)
    taker.start()
    assert looking_up.wait(10)
    holding = threading.Event()

    def hold() -> None:
        with collector.held_leases():
            holding.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert not holding.wait(0.5)  # the run is still looking its keys up
    release.set()
    assert holding.wait(10)
    taker.join()
    holder.join()


def test_waiting_for_events_returns_when_they_are_stored(backend):
    """A storage that notifies returns as soon as another storage stored events (and at once
    when there are some); the others sleep for the time given."""
    reader, writer = backend.open(), backend.open()
    if not reader.notifies:
        started = time.monotonic()
        reader.wait_for_events("r1", -1, 0.2)
        assert 0.2 <= time.monotonic() - started < 5
        return
    reader.store_events([event("r1", 0)])
    started = time.monotonic()
    reader.wait_for_events("r1", -1, 30)  # there is one already
    assert time.monotonic() - started < 5

    waited: list[float] = []

    def wait() -> None:
        began = time.monotonic()
        reader.wait_for_events("r1", 0, 30)
        waited.append(time.monotonic() - began)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    writer.store_events([event("r1", 1)])
    waiter.join(30)
    assert waited and waited[0] < 5
    assert [e.seq for e in reader.get_events("r1")] == [0, 1]


def test_a_migration_of_an_up_to_date_schema_changes_nothing(storage):
    storage.store_events([event("r1", 0)])
    storage.migrate(lambda message: None)  # SQLite reports the creation of its file once
    told = []
    report = storage.migrate(told.append)
    assert report.from_version == report.to_version
    assert report.batches == 0
    assert told and str(report.to_version) in told[-1]
    assert [e.seq for e in storage.get_events("r1")] == [0]


def test_an_older_log_is_migrated_in_batches_that_writers_interleave_with(backend):
    """The index of output keys per run is filled from a log an older solidflow wrote, in
    batches: a writer of that version keeps storing events while the migration runs, and
    every key it stored is indexed once the migration ends."""
    reports = []
    migration = threading.Thread(target=lambda: reports.append(backend.open().migrate(print)))
    written_during = 0
    with old_log(
        backend.name, backend.settings, runs=100, events_per_run=1000
    ) as write:  # 100,000 events
        migration.start()
        for number in itertools.count():
            write([old_event(f"new-{number}", seq) for seq in range(30)])
            if not migration.is_alive():
                break
            written_during += 1
            time.sleep(0.01)  # a busy run's event sink, not a writer that never lets go
    migration.join()
    [report] = reports
    storage = backend.open()
    assert report.from_version == INDEXED_FROM[backend.name] < report.to_version
    assert report.batches >= 2 and report.rows >= 100 * 334
    assert written_during >= 1  # the writer went on while the migration ran
    for run_id in ("old-0", "old-99", "new-0"):  # new-0 was stored before the migration ended
        expected = {old_event(run_id, seq).payload["key"] for seq in range(0, 30, 3)}
        assert expected <= storage.output_keys([run_id]), run_id
    assert len(storage.output_keys([f"old-{n}" for n in range(100)])) == 100 * 334


def test_schedule_states_and_ticks_round_trip(storage):
    assert storage.get_schedule_state("nightly") is None
    state = ScheduleState(
        name="nightly", status=ScheduleStatus.RUNNING, cursor=100.0, update_time=1.0
    )
    storage.set_schedule_state(state)
    stopped = dataclasses.replace(state, status=ScheduleStatus.STOPPED, update_time=2.0)
    storage.set_schedule_state(stopped)
    assert storage.get_schedule_state("nightly") == stopped

    ticks = [
        TickRecord(
            key=f"nightly@{hour}",
            schedule="nightly",
            tick_time=hour * 3600.0,
            status=TickStatus.STARTED,
            create_time=hour * 3600.0 + 1,
        )
        for hour in (1, 3, 2)
    ]
    for tick in ticks:
        storage.add_tick(tick)
    with pytest.raises(DuplicateRecordError):
        storage.add_tick(ticks[0])
    done = storage.update_tick("nightly@3", status=TickStatus.SUCCESS, run_id="r3")
    assert done == dataclasses.replace(ticks[1], status=TickStatus.SUCCESS, run_id="r3")
    assert [t.key for t in storage.get_ticks("nightly")] == [f"nightly@{h}" for h in (3, 2, 1)]
    assert [t.key for t in storage.get_ticks("nightly", limit=1)] == ["nightly@3"]
    assert storage.get_ticks("nightly", key="nightly@2") == [ticks[2]]
    assert storage.get_ticks("other") == []
    with pytest.raises(KeyError):
        storage.update_tick("missing", status=TickStatus.FAILURE, error="x")


def test_step_claims_go_to_the_first_live_run_and_lapse_with_its_heartbeat(storage):
    now = time.time()
    for run_id in ("first", "second"):
        storage.add_run(dataclasses.replace(run(run_id, now), heartbeat=now))
    assert (
        storage.claim_steps("first", {"k1": "prepare", "k2": "train"}, now=now, stale_after=30)
        == {}
    )
    held = storage.claim_steps("second", {"k1": "prepare", "k3": "train"}, now=now, stale_after=30)
    assert list(held) == ["k1"] and (held["k1"].run_id, held["k1"].step) == ("first", "prepare")
    later = now + 31  # the first run's heartbeat is older than 30 s: its claim lapsed
    assert storage.claim_steps("second", {"k1": "prepare"}, now=later, stale_after=30) == {}
    assert list(storage.claim_steps("first", {"k1": "prepare"}, now=now, stale_after=30)) == ["k1"]
    storage.release_step_claims("second", ["k1"])
    assert storage.claim_steps("first", {"k1": "prepare"}, now=now, stale_after=30) == {}
    storage.update_run("first", status=RunStatus.SUCCESS)  # an ended run holds nothing
    assert storage.claim_steps("second", {"k2": "train"}, now=now, stale_after=30) == {}
    storage.release_step_claims("second")
    assert storage.claim_steps("first", {"k2": "train", "k3": "x"}, now=now, stale_after=30) == {}
