"""Instances on several hosts (homes) that share one PostgreSQL database: the URL that picks
it, runs that every home sees, leases that protect outputs from gc on any host, and a log
that one host follows while another writes it."""

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.cli import main
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.config_file import DATABASE_URL_VARIABLE
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.memo.gc import collect_garbage
from solidflow.engine.memo.leases import Leases
from solidflow.engine.store import IntermediateStore

pytestmark = [pytest.mark.xdist_group("postgres"), pytest.mark.postgres]

ORIGIN = {"run_id": "elsewhere", "step": "s", "output": "result"}


@solid
def one() -> int:
    return 1


@pipeline
def single():
    one()


def host(home: Path, url: str, store: Path) -> Instance:
    """The instance of one host: its own home, the shared database and store."""
    home.mkdir(parents=True)
    settings = {"event_log": {"url": url}, "storage": {"root": str(store)}}
    (home / "solidflow.yaml").write_text(yaml.safe_dump(settings))
    return Instance(home)


def test_the_database_url_variable_picks_postgresql(tmp_path, postgres_url, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_VARIABLE, postgres_url)
    first = Instance(tmp_path / "a")
    second = Instance(tmp_path / "b")
    try:
        assert type(first.storage).__name__ == "PostgresStorage"
        result = execute_pipeline(single, instance=first)
        assert result.success
        [run] = second.runs()
        assert (run.run_id, run.status) == (result.run_id, RunStatus.SUCCESS)
        assert [event.type for event in second.events(run.run_id)][-1].value == "RUN_SUCCESS"
        assert not (tmp_path / "b" / "events.db").exists()
    finally:
        first.storage.close()
        second.storage.close()


def test_gc_on_one_host_keeps_the_outputs_a_run_on_another_leased(tmp_path, postgres_url):
    store_root = tmp_path / "store"
    here = host(tmp_path / "here", postgres_url, store_root)
    there = host(tmp_path / "there", postgres_url, store_root)
    store = IntermediateStore(str(store_root))
    try:
        needed, unused = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
        store.put(needed, b"z" * 100_000, **ORIGIN)
        store.put(unused, b"z" * 100_000, **ORIGIN)
        time.sleep(0.01)
        now = time.time()
        run = RunRecord(
            run_id=uuid.uuid4().hex,
            pipeline_name="single",
            status=RunStatus.STARTED,
            create_time=now,
            start_time=now,
            heartbeat=now,
            pid=os.getpid(),
            hostname="another-host",
        )
        there.add_run(run)
        with Leases(there).taking(run.run_id, [needed]):
            pass
        assert not (tmp_path / "there" / "leases").exists()  # in the database, not a file

        report = collect_garbage(here, store, keep_last=0, include_latest=True)
        assert [stored.key for stored in report.deleted] == [unused]
        assert (report.in_use, report.live_runs) == (1, [run.run_id])
        assert store.check([needed])[needed][0].value == "PRESENT"

        there.set_run_status(run.run_id, RunStatus.SUCCESS, end_time=time.time())
        report = collect_garbage(here, store, keep_last=0, include_latest=True)
        assert [stored.key for stored in report.deleted] == [needed]
        assert here.storage.stored_leases() == {}  # the ended run's lease was removed
    finally:
        store.close()
        here.storage.close()
        there.storage.close()


def test_an_older_database_is_refused_until_solidflow_instance_migrate(tmp_path, postgres_url):
    from solidflow.benchmarks.old_logs import create_old_log, old_event

    create_old_log("postgres", {"url": postgres_url}, runs=3, events_per_run=30)
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(yaml.safe_dump({"event_log": {"url": postgres_url}}))
    refused = CliRunner().invoke(main, ["--home", str(home), "runs"])
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())  # unwrapped
    assert "has schema version 1; this solidflow needs 2" in said
    assert "run `solidflow instance migrate`" in said
    assert "Traceback" not in refused.output

    migrated = CliRunner().invoke(main, ["--home", str(home), "instance", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert "schema version 2" in migrated.output
    assert "indexed 30 events in 1 batches" in migrated.output
    instance = Instance(home)
    try:
        expected = {old_event("old-2", seq).payload["key"] for seq in range(0, 30, 3)}
        assert instance.storage.output_keys(["old-2"]) == expected
    finally:
        instance.storage.close()


def test_a_newer_database_is_refused_naming_it(tmp_path, postgres_url):
    import psycopg

    from solidflow.integrations.postgres.schema import SCHEMA_VERSION

    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(yaml.safe_dump({"event_log": {"url": postgres_url}}))
    assert CliRunner().invoke(main, ["--home", str(home), "runs"]).exit_code == 0
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE solidflow_schema SET version = %s", (SCHEMA_VERSION + 1,))
    for command in (["runs"], ["instance", "migrate"]):
        refused = CliRunner().invoke(main, ["--home", str(home), *command])
        assert refused.exit_code == 2
        said = " ".join(refused.output.split())  # unwrapped
        assert f"has schema version {SCHEMA_VERSION + 1}, newer than this solidflow" in said
        assert postgres_url.rsplit("/", 1)[1] in said  # names the database


def test_logs_follow_prints_what_another_host_stores_until_the_run_ends(tmp_path, postgres_url):
    writer = host(tmp_path / "a", postgres_url, tmp_path / "store")
    reader = host(tmp_path / "b", postgres_url, tmp_path / "store")
    run_id = uuid.uuid4().hex
    writer.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name="single",
            status=RunStatus.STARTED,
            create_time=time.time(),
            start_time=time.time(),
            heartbeat=time.time(),
            hostname="elsewhere",
        )
    )
    writer.store_events([json_event(run_id, 0, "first line")])
    command = [sys.executable, "-m", "solidflow.cli", "--home", str(reader.home)]
    with subprocess.Popen(
        [*command, "logs", "--follow", "--json", run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as follow:
        printed: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [printed.put(line) for line in follow.stdout]).start()

        def next_event() -> dict:
            return json.loads(printed.get(timeout=60))  # a hung command fails the test

        try:
            first = next_event()
            assert (first["seq"], first["payload"]["message"]) == (0, "first line")
            writer.store_events([json_event(run_id, 1, "second line")])
            second = next_event()
            assert (second["seq"], second["payload"]["message"]) == (1, "second line")
            writer.store_events([json_event(run_id, 2, "", EventType.RUN_SUCCESS)])
            writer.storage.update_run(run_id, status=RunStatus.SUCCESS, end_time=time.time())
            assert next_event()["type"] == "RUN_SUCCESS"
            assert follow.wait(timeout=60) == 0, follow.stderr.read()
        finally:
            if follow.poll() is None:
                follow.kill()
            writer.storage.close()
            reader.storage.close()


def json_event(run_id: str, seq: int, message: str, kind: EventType = EventType.LOG) -> EventRecord:
    return EventRecord(
        run_id=run_id, seq=seq, timestamp=time.time(), type=kind, payload={"message": message}
    )
