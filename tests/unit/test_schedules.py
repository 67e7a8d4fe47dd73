"""Schedules evaluated by the daemon on a fake clock, with a real SQLite instance: ticks
recorded once, DST-correct times, catch-up policies, and errors recorded per tick."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from solidflow import Instance, RunStatus, ScheduleDefinition, schedule
from solidflow.daemon import Daemon
from solidflow.engine import TickStatus, preview_schedule, schedule_ticks, start_schedule
from solidflow.engine.schedules.ticks import tick_key, tick_run_id
from solidflow.errors import DefinitionError, TargetError
from tests import queue_pipelines

WORKSPACE = str(Path(queue_pipelines.__file__))
BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


class FakeClock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return Instance(tmp_path / "home")


def _daemon(instance: Instance, clock: FakeClock) -> Daemon:
    return Daemon(instance, workspace=[WORKSPACE], clock=clock)


def _local(ticks, zone=BERLIN) -> list[str]:
    return [datetime.fromtimestamp(tick.tick_time, zone).isoformat() for tick in ticks]


def test_a_started_schedule_queues_one_run_per_tick_and_none_twice(instance):
    clock = FakeClock(datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN))
    daemon = _daemon(instance, clock)
    assert daemon.evaluate_schedules() == []  # no schedule runs before it is started
    start_schedule(instance, "hourly", clock())
    assert daemon.evaluate_schedules() == []  # nothing due yet
    clock.set(datetime(2026, 6, 1, 10, 0, 5, tzinfo=BERLIN))
    [tick] = daemon.evaluate_schedules()
    assert (tick.status, _local([tick])) == (TickStatus.SUCCESS, ["2026-06-01T10:00:00+02:00"])
    assert tick.key == "hourly@2026-06-01T08:00:00+00:00"
    run = instance.get_run(tick.run_id)
    assert run.status is RunStatus.QUEUED and run.pipeline_name == "napper"
    assert run.run_config == {"solids": {"nap": {"config": {"seconds": 0.01}}}}
    assert run.tags["solidflow/schedule"] == "hourly" and run.tags["solidflow/tick"] == tick.key
    assert daemon.evaluate_schedules() == []  # the same time again: nothing new
    # A second daemon (after a restart) at the same time queues nothing either.
    assert _daemon(instance, clock).evaluate_schedules() == []
    assert len(instance.runs()) == 1
    clock.set(datetime(2026, 6, 1, 11, 0, 1, tzinfo=BERLIN))
    [later] = daemon.evaluate_schedules()
    assert _local([later]) == ["2026-06-01T11:00:00+02:00"], later.error
    assert [t.status for t in schedule_ticks(instance, "hourly")] == [TickStatus.SUCCESS] * 2


def test_a_tick_left_half_done_by_a_killed_daemon_is_finished_without_a_second_run(instance):
    clock = FakeClock(datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN))
    start_schedule(instance, "hourly", clock())
    clock.set(datetime(2026, 6, 1, 10, 0, 1, tzinfo=BERLIN))
    [tick] = _daemon(instance, clock).evaluate_schedules()
    # The daemon died after queuing the run, before recording the tick's end and cursor:
    instance.storage.update_tick(tick.key, status=TickStatus.STARTED)
    start = datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN).timestamp()
    state = instance.storage.get_schedule_state("hourly")
    instance.storage.set_schedule_state(type(state)(**{**_fields(state), "cursor": start}))
    [again] = _daemon(instance, clock).evaluate_schedules()
    assert (again.key, again.status, again.run_id) == (tick.key, TickStatus.SUCCESS, tick.run_id)
    assert [run.run_id for run in instance.runs()] == [tick.run_id]


def _fields(state) -> dict:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


def test_ticks_of_a_daily_schedule_across_both_dst_changes(instance):
    clock = FakeClock(datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))
    daemon = _daemon(instance, clock)
    start_schedule(instance, "nightly", clock())
    ticks = []
    for day in (29, 30):  # 02:30 does not exist on 29 March: it runs when clocks jump, 03:00
        clock.set(datetime(2026, 3, day, 12, 0, tzinfo=BERLIN))
        ticks += daemon.evaluate_schedules()
    assert _local(ticks) == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    clock.set(datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))
    daemon.evaluate_schedules()
    autumn = []
    for day in (25, 26):  # 02:30 happens twice on 25 October: it runs at the first one
        clock.set(datetime(2026, 10, day, 12, 0, tzinfo=BERLIN))
        autumn += daemon.evaluate_schedules()
    assert _local(autumn) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    assert all(tick.status is TickStatus.SUCCESS for tick in ticks + autumn)


def test_an_hourly_schedule_stays_hourly_across_dst_changes():
    hourly = queue_pipelines.hourly
    spring = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN).timestamp()
    times = [t.local_time for t in preview_schedule(hourly, spring, 3)]
    assert times == [  # 02:00 does not exist: one tick at 03:00, an hour after 01:00
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    autumn = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN).timestamp()
    times = [t.local_time for t in preview_schedule(hourly, autumn, 3)]
    assert times == [  # 02:00 happens twice: both are ticks, an hour apart
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # down from 09:05 to 10:00:30: ticks 09:10 ... 10:00 were missed (6 of them)
        ("every_ten_minutes", ["SKIPPED"] * 5 + ["SUCCESS"]),  # only the one on time (10:00)
        ("every_ten_minutes_all", ["SKIPPED"] * 3 + ["SUCCESS"] * 3),  # those within 30 min
    ],
)
def test_catchup_after_downtime(instance, name, expected):
    clock = FakeClock(datetime(2026, 6, 1, 9, 5, tzinfo=UTC))
    start_schedule(instance, name, clock())
    clock.set(datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC))
    ticks = _daemon(instance, clock).evaluate_schedules()
    assert [tick.status.value for tick in ticks] == expected
    assert _local(ticks, UTC)[0] == "2026-06-01T09:10:00+00:00"
    queued = [tick.run_id for tick in ticks if tick.status is TickStatus.SUCCESS]
    assert sorted(run.run_id for run in instance.runs()) == sorted(queued)


def test_catchup_none_skips_a_tick_missed_by_more_than_a_minute(instance):
    clock = FakeClock(datetime(2026, 6, 1, 9, 5, tzinfo=UTC))
    start_schedule(instance, "every_ten_minutes", clock())
    clock.set(datetime(2026, 6, 1, 9, 12, tzinfo=UTC))
    [tick] = _daemon(instance, clock).evaluate_schedules()
    assert tick.status is TickStatus.SKIPPED and "catchup: none" in tick.error
    assert instance.runs() == []


def test_catchup_latest_runs_only_the_most_recent_missed_tick(instance):
    clock = FakeClock(datetime(2026, 6, 1, 6, 30, tzinfo=BERLIN))
    start_schedule(instance, "hourly", clock())
    clock.set(datetime(2026, 6, 1, 9, 40, tzinfo=BERLIN))  # 07:00, 08:00, 09:00 missed
    ticks = _daemon(instance, clock).evaluate_schedules()
    assert [tick.status.value for tick in ticks] == ["SKIPPED", "SKIPPED", "SUCCESS"]
    assert _local(ticks)[-1] == "2026-06-01T09:00:00+02:00"
    assert len(instance.runs()) == 1


def test_tick_errors_are_recorded_on_the_tick(instance):
    clock = FakeClock(datetime(2026, 6, 5, 11, 0, tzinfo=UTC))  # a Friday
    for name in ("broken_config", "raising", "weekdays_only"):
        start_schedule(instance, name, clock())
    clock.set(datetime(2026, 6, 5, 12, 0, 1, tzinfo=UTC))
    ticks = {tick.schedule: tick for tick in _daemon(instance, clock).evaluate_schedules()}
    broken = ticks["broken_config"]
    assert broken.status is TickStatus.FAILURE
    assert "solids.nap.config.seconds" in broken.error
    assert instance.get_run(broken.run_id).status is RunStatus.FAILURE  # recorded, never run
    raising = ticks["raising"]
    assert raising.status is TickStatus.FAILURE and raising.run_id is None
    assert raising.error == "run_config_fn raised RuntimeError: no data for today"
    assert ticks["weekdays_only"].status is TickStatus.SUCCESS
    clock.set(datetime(2026, 6, 6, 12, 0, 1, tzinfo=UTC))  # Saturday: skipped by the function
    [saturday] = [
        t for t in _daemon(instance, clock).evaluate_schedules() if t.schedule == "weekdays_only"
    ]
    assert saturday.status is TickStatus.SKIPPED
    assert saturday.error == "run_config_fn returned None"


def test_a_stopped_schedule_queues_nothing(instance):
    clock = FakeClock(datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN))
    start_schedule(instance, "hourly", clock())
    from solidflow.engine import stop_schedule

    stop_schedule(instance, "hourly", clock())
    clock.set(datetime(2026, 6, 1, 12, 0, 1, tzinfo=BERLIN))
    assert _daemon(instance, clock).evaluate_schedules() == []


def test_preview_gives_each_tick_its_config_and_problems():
    now = datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN).timestamp()
    [first, second] = preview_schedule(queue_pipelines.hourly, now, 2)
    assert first.local_time == "2026-06-01T10:00:00+02:00"
    assert first.run_config == {"solids": {"nap": {"config": {"seconds": 0.01}}}}
    assert first.problems == () and second.run_config["solids"]["nap"]["config"]["seconds"] == 0.011
    [broken] = preview_schedule(queue_pipelines.broken_config, now, 1)
    assert broken.problems and broken.problems[0].startswith("solids.nap.config.seconds:")


def test_tick_keys_and_run_ids_are_stable():
    moment = datetime(2026, 6, 1, 8, 0, tzinfo=UTC).timestamp()
    assert tick_key("hourly", moment) == "hourly@2026-06-01T08:00:00+00:00"
    assert tick_run_id(tick_key("hourly", moment)) == tick_run_id(
        "hourly@2026-06-01T08:00:00+00:00"
    )


def test_bad_schedule_definitions_fail_when_defined():
    napper = queue_pipelines.napper
    with pytest.raises(DefinitionError, match="not a valid cron expression"):
        schedule(cron="61 * * * *", pipeline=napper, run_config_fn=lambda: {}, name="bad")
    with pytest.raises(DefinitionError, match="unknown timezone 'Mars/Olympus'"):
        ScheduleDefinition(name="bad", cron="0 * * * *", pipeline=napper, timezone="Mars/Olympus")
    with pytest.raises(DefinitionError, match="catchup must be one of none, latest, all"):
        ScheduleDefinition(name="bad", cron="0 * * * *", pipeline=napper, catchup="some")


def test_an_unknown_workspace_or_schedule_is_named(instance, tmp_path):
    with pytest.raises(TargetError, match="no such file"):
        Daemon(instance, workspace=[str(tmp_path / "missing.py")])
    from solidflow.engine import find_schedule, load_schedules

    with pytest.raises(TargetError, match=r"no schedule named .hourlyy.*hourly"):
        find_schedule(load_schedules([WORKSPACE]), "hourlyy")


def test_a_workspace_location_that_fails_is_reported_and_the_others_are_kept(tmp_path):
    from solidflow.engine import collect_schedules

    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    again = tmp_path / "again.py"
    again.write_text(
        f"from solidflow.engine.run.targets import import_location\n"
        f"hourly = import_location({WORKSPACE!r}).hourly\n"
    )
    found = collect_schedules([WORKSPACE, str(broken), str(again), WORKSPACE])
    assert "hourly" in found.schedules
    assert [Path(where).name for where, _ in found.problems] == ["broken.py", "again.py"]
    assert "SyntaxError" in found.problems[0][1]
    assert "two schedules are named 'hourly'" in found.problems[1][1]


def test_a_schedule_info_gives_its_next_ticks_and_its_last_tick(instance):
    from solidflow.engine import schedule_info

    clock = FakeClock(datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN))
    start_schedule(instance, "hourly", clock())
    clock.set(datetime(2026, 6, 1, 12, 0, 5, tzinfo=BERLIN))
    _daemon(instance, clock).evaluate_schedules()
    info = schedule_info(instance, queue_pipelines.hourly, clock(), upcoming=3)
    assert [datetime.fromtimestamp(t, BERLIN).hour for t in info.next_ticks] == [13, 14, 15]
    assert info.next_tick == info.next_ticks[0]
    assert _local([info.last_tick]) == ["2026-06-01T12:00:00+02:00"]
    assert info.status.value == "RUNNING" and info.pipeline == "napper"


def test_ticks_are_read_a_page_at_a_time_before_a_cursor(instance):
    clock = FakeClock(datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN))
    start_schedule(instance, "every_ten_minutes_all", clock())
    clock.set(datetime(2026, 6, 1, 10, 0, 1, tzinfo=BERLIN))
    _daemon(instance, clock).evaluate_schedules()
    everything = schedule_ticks(instance, "every_ten_minutes_all")
    assert len(everything) == 3
    first = schedule_ticks(instance, "every_ten_minutes_all", limit=2)
    rest = schedule_ticks(instance, "every_ten_minutes_all", limit=2, before=first[-1].tick_time)
    assert first + rest == everything
    before_second = schedule_ticks(instance, "every_ten_minutes_all", 1, everything[1].tick_time)
    assert before_second == everything[2:]
    assert (
        schedule_ticks(instance, "every_ten_minutes_all", None, everything[0].tick_time)
        == (everything[1:])
    )
