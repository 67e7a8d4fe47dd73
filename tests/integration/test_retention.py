"""Retention over every event log backend: deleting runs, their events and the stored
outputs no kept run uses (`delete_runs`, `collect_runs`, `solidflow runs delete`,
`solidflow gc`)."""

import hashlib
import time
import uuid

import pytest
from click.testing import CliRunner

from solidflow.cli import main
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.memo.leases import Leases
from solidflow.engine.memo.retention import collect_runs, delete_runs
from solidflow.engine.store import IntermediateStore
from solidflow.errors import RunRequestError

from ..backends import event

pytestmark = pytest.mark.xdist_group("postgres")

DAY = 86400.0


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class History:
    """An instance of a backend with a store, and runs recorded by hand."""

    def __init__(self, backend, home):
        self.instance = backend.instance(home)
        self.store = IntermediateStore(self.instance.config.storage.root)

    def run(self, pipeline: str, age_days: float, outputs: list[str], **changes) -> str:
        """A run of `pipeline` created `age_days` ago that stored (or read) `outputs`."""
        run_id = uuid.uuid4().hex
        created = time.time() - age_days * DAY
        fields = {"status": RunStatus.SUCCESS, "end_time": created + 1.0, **changes}
        record = RunRecord(
            run_id=run_id, pipeline_name=pipeline, create_time=created, start_time=created, **fields
        )
        self.instance.add_run(record)
        records = [event(run_id, 0, type=EventType.RUN_START)]
        for seq, name in enumerate(outputs, start=1):
            if self.store.info(key(name)) is None:
                self.store.put(key(name), b"x" * 10_000, run_id=run_id, step="s", output=name)
            payload = {"output": name, "key": key(name), "stored": True}
            records.append(
                event(run_id, seq, type=EventType.STEP_OUTPUT, step="s", payload=payload)
            )
        self.store.flush()  # small outputs are packed: others see them once flushed
        self.instance.store_events(records)
        return run_id

    def present(self, *names: str) -> set[str]:
        status = self.store.check([key(name) for name in names])
        return {name for name in names if status[key(name)][0].value == "PRESENT"}


@pytest.fixture
def history(backend, tmp_path):
    found = History(backend, tmp_path / "home")
    yield found
    found.store.close()


def test_deleting_a_run_deletes_its_events_and_the_outputs_only_it_used(history):
    old = history.run("etl", 40, ["a", "shared"])
    new = history.run("etl", 1, ["b", "shared"])
    report = delete_runs(history.instance, [old], history.store)
    assert report.runs == [old]
    assert report.deleted_outputs == [key("a")]
    assert report.freed_bytes >= 10_000
    assert report.kept_outputs == 1
    assert history.instance.get_run(old) is None
    assert history.instance.events(old) == []
    assert history.present("a", "b", "shared") == {"b", "shared"}
    assert [e.seq for e in history.instance.events(new)] == [0, 1, 2]


def test_a_dry_run_says_what_would_go_and_deletes_nothing(history):
    old = history.run("etl", 40, ["a", "shared"])
    history.run("etl", 1, ["shared"])
    report = delete_runs(history.instance, [old], history.store, dry_run=True)
    assert (report.deleted_outputs, report.kept_outputs) == ([key("a")], 1)
    assert history.instance.get_run(old) is not None
    assert history.present("a", "shared") == {"a", "shared"}


def test_a_live_run_is_not_deleted(history):
    live = history.run("etl", 40, ["a"], status=RunStatus.STARTED, end_time=None)
    history.instance.storage.update_run(live, heartbeat=time.time(), pid=None)
    with pytest.raises(RunRequestError, match=f"run {live} is STARTED: cancel it"):
        delete_runs(history.instance, [live], history.store)
    assert history.present("a") == {"a"}


def test_an_output_a_live_run_leased_is_kept(history):
    old = history.run("etl", 40, ["a", "b"])
    live = history.run("etl", 0, [], status=RunStatus.STARTED, end_time=None)
    history.instance.storage.update_run(live, heartbeat=time.time(), pid=None)
    with Leases(history.instance).taking(live, [key("a")]):
        pass
    report = delete_runs(history.instance, [old], history.store)
    assert (report.deleted_outputs, report.kept_outputs) == ([key("b")], 1)
    assert history.present("a", "b") == {"a"}


def test_collect_runs_deletes_old_ended_runs_but_the_newest_of_each_pipeline(history):
    oldest = history.run("etl", 90, ["a"])
    older = history.run("etl", 60, ["b"])
    recent = history.run("etl", 1, ["c"])
    lone = history.run("report", 90, ["d"])
    dead_old = history.run("etl", 70, ["e"], status=RunStatus.FAILURE)
    report = collect_runs(history.instance, history.store, older_than=30 * DAY, keep_last=1)
    assert set(report.runs) == {oldest, older, dead_old}  # recent is new; lone is its newest
    assert history.present("a", "b", "c", "d", "e") == {"c", "d"}
    assert {run.run_id for run in history.instance.runs()} == {recent, lone}

    again = collect_runs(history.instance, history.store, older_than=0, keep_last=0)
    assert set(again.runs) == {recent, lone}
    assert history.present("c", "d") == set()


def test_the_commands_delete_runs_and_report_bytes_freed(history):
    home = str(history.instance.home)
    old = history.run("etl", 40, ["a"])
    history.run("etl", 1, ["b"])
    runner = CliRunner()
    dry = runner.invoke(main, ["--home", home, "gc", "--older-than", "30d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would delete run {old}" in dry.output
    assert "would delete 1 run and their events, 1 stored outputs" in dry.output
    assert history.present("a") == {"a"}

    done = runner.invoke(main, ["--home", home, "gc", "--older-than", "30d"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 run and their events, 1 stored outputs (" in done.output
    assert history.present("a", "b") == {"b"}

    missing = runner.invoke(main, ["--home", home, "runs", "delete", "nosuchrun"])
    assert missing.exit_code == 2
    assert "nosuchrun" in missing.output and "Traceback" not in missing.output
    deleted = runner.invoke(main, ["--home", home, "runs", "delete", "latest"])
    assert deleted.exit_code == 0, deleted.output
    assert history.instance.runs() == [] and history.present("b") == set()
    bad = runner.invoke(main, ["--home", home, "gc", "--older-than", "soon"])
    assert bad.exit_code == 2 and "'--older-than': 'soon' is not an age" in bad.output
