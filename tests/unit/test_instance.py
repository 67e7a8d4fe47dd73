import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.instance import Instance, InstanceConfigError
from solidflow.engine.instance.runs import RunRecord, RunStatus, current_process_token
from solidflow.engine.instance.sqlite import SqliteStorage

HOST = socket.gethostname()
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def make_run(run_id: str, create_time: float = 1.0, **kwargs) -> RunRecord:
    """A run recorded `create_time`; a STARTED one by default, heartbeating now."""
    kwargs.setdefault("status", RunStatus.STARTED)
    kwargs.setdefault("pid", os.getpid())
    kwargs.setdefault("hostname", HOST)
    kwargs.setdefault("process_start", current_process_token())
    kwargs.setdefault("heartbeat", time.time())
    return RunRecord(run_id=run_id, pipeline_name="hello", create_time=create_time, **kwargs)


def log(run_id: str, seq: int, type: EventType = EventType.LOG) -> EventRecord:
    return EventRecord(run_id=run_id, seq=seq, timestamp=time.time(), type=type)


@pytest.fixture
def instance(tmp_path):
    with Instance(tmp_path) as instance:
        yield instance


def write_config(home: Path, text: str) -> None:
    (home / "solidflow.yaml").write_text(text)


def test_defaults_live_under_home(tmp_path):
    instance = Instance(tmp_path)
    assert instance.home == tmp_path.resolve()
    assert instance.config.event_log.backend == "sqlite"
    assert instance.config.storage.root == str(tmp_path / "storage")
    assert (instance.config.default_executor, instance.config.memoize) == ("in_process", False)
    assert instance.config.run_launcher.name == "subprocess"
    monitoring = instance.config.run_monitoring
    assert (monitoring.heartbeat_interval, monitoring.heartbeat_timeout) == (5.0, 60.0)
    assert isinstance(instance.storage, SqliteStorage)
    assert instance.storage.path == tmp_path / "events.db"


def test_home_comes_from_the_environment_then_the_user_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLIDFLOW_HOME", str(tmp_path / "from-env"))
    assert Instance().home == tmp_path / "from-env"
    monkeypatch.delenv("SOLIDFLOW_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert Instance().home == tmp_path / "user" / ".solidflow"


def test_yaml_settings_with_paths_relative_to_home(tmp_path):
    write_config(
        tmp_path,
        "event_log:\n  backend: sqlite\n  path: db/log.sqlite\n"
        "storage:\n  root: s3://bucket/outputs\n"
        "default_executor: ray\nmemoize: true\n",
    )
    instance = Instance(tmp_path)
    assert instance.storage.path == tmp_path / "db" / "log.sqlite"
    assert instance.config.storage.root == "s3://bucket/outputs"
    assert (instance.config.default_executor, instance.config.memoize) == ("ray", True)

    write_config(tmp_path, f"storage:\n  root: {tmp_path / 'abs'}\n")
    assert Instance(tmp_path).config.storage.root == str(tmp_path / "abs")
    write_config(tmp_path, "")
    assert Instance(tmp_path).storage.path == tmp_path / "events.db"


def test_bad_settings_name_the_file_and_every_bad_field(tmp_path):
    write_config(
        tmp_path,
        "event_log:\n  pth: x.db\nmemoize: perhaps\nrun_monitoring:\n  heartbeat_interval: 0\n",
    )
    with pytest.raises(InstanceConfigError) as error:
        Instance(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "solidflow.yaml") in message
    for field in ("event_log.pth", "memoize", "run_monitoring.heartbeat_interval"):
        assert f"  {field}: " in message
    assert "default_executor" not in message


def test_an_unknown_event_log_backend_lists_the_available_ones(tmp_path):
    write_config(tmp_path, "event_log:\n  backend: mysql\n  url: x\n")
    with pytest.raises(InstanceConfigError) as error:
        Instance(tmp_path)
    assert (
        "  event_log.backend: unknown event log backend 'mysql'; available: postgresql, sqlite"
        in str(error.value)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("event_log: [unclosed\n", "cannot parse"), ("- a\n- b\n", "mapping")],
)
def test_unreadable_yaml_is_reported(tmp_path, text, expected):
    write_config(tmp_path, text)
    with pytest.raises(InstanceConfigError, match=expected):
        Instance(tmp_path)


def test_runs_are_newest_first_filtered_and_limited(instance):
    instance.add_run(make_run("a", 1.0, status=RunStatus.SUCCESS))
    instance.add_run(make_run("b", 2.0))
    instance.add_run(make_run("c", 3.0, status=RunStatus.SUCCESS))
    instance.set_run_status("b", RunStatus.CANCELED, end_time=4.0)

    assert [r.run_id for r in instance.runs()] == ["c", "b", "a"]
    assert [r.run_id for r in instance.runs(RunStatus.SUCCESS)] == ["c", "a"]
    assert [r.run_id for r in instance.runs(limit=1)] == ["c"]
    assert instance.get_run("b").end_time == 4.0
    assert instance.get_run("nope") is None


def test_deleting_a_run_removes_its_record_and_events_only(instance):
    instance.add_run(make_run("a", 1.0, status=RunStatus.SUCCESS))
    instance.add_run(make_run("b", 2.0, status=RunStatus.SUCCESS))
    instance.store_events([log("a", 0), log("a", 1), log("b", 0)])

    assert instance.delete_run("a")
    assert instance.get_run("a") is None and instance.events("a") == []
    assert [e.seq for e in instance.events("b")] == [0]
    assert not instance.delete_run("a")


def start_sleeper() -> tuple[subprocess.Popen, str | None]:
    """A live python process and its process token."""
    code = (
        "import time; from solidflow.engine.instance.runs import current_process_token;"
        "print(current_process_token(), flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    token = process.stdout.readline().decode().strip()
    return process, None if token == "None" else token


def test_a_run_whose_process_died_is_failed_with_an_event(instance):
    process, token = start_sleeper()
    try:
        instance.add_run(make_run("dead", pid=process.pid, process_start=token))
        instance.store_events([log("dead", 0, EventType.RUN_START), log("dead", 1)])
        assert instance.runs()[0].status is RunStatus.STARTED
    finally:
        process.kill()
        process.wait()
        process.stdout.close()

    before = time.time()
    [run] = instance.runs()
    assert run.status is RunStatus.FAILURE
    assert before <= run.end_time <= time.time()
    assert instance.get_run("dead").status is RunStatus.FAILURE
    events = instance.events("dead")
    assert [(e.seq, e.type) for e in events][-1] == (2, EventType.RUN_FAILURE)
    assert events[-1].payload == {
        "message": f"run process {process.pid} on {HOST} exited without finishing the run"
    }
    instance.runs()
    assert len(instance.events("dead")) == 3


@linux_only
def test_a_reused_pid_does_not_keep_a_dead_run_alive(instance):
    instance.add_run(make_run("reused", process_start="not-this-process"))
    instance.add_run(make_run("alive"))
    assert instance.get_run("reused").status is RunStatus.FAILURE
    assert instance.get_run("alive").status is RunStatus.STARTED
    assert [e.type for e in instance.events("reused")] == [EventType.RUN_FAILURE]


def test_a_run_of_another_host_lives_while_it_sends_heartbeats(instance):
    pid = 2**22 + 1  # no such process here: another host's pid says nothing
    instance.add_run(make_run("remote", pid=pid, hostname=f"not-{HOST}"))
    assert instance.get_run("remote").status is RunStatus.STARTED
    assert instance.events("remote") == []

    instance.storage.update_run("remote", heartbeat=time.time() - 61)
    assert instance.get_run("remote").status is RunStatus.FAILURE
    [failure] = instance.events("remote")
    assert failure.type is EventType.RUN_FAILURE
    assert failure.message == (
        f"run process {pid} on not-{HOST} stopped sending heartbeats: the last was 61 s ago "
        "(heartbeat_timeout: 60 s)"
    )


def test_the_heartbeat_timeout_is_a_setting_and_queued_runs_never_die(tmp_path):
    write_config(tmp_path, "run_monitoring:\n  heartbeat_timeout: 0.5\n")
    instance = Instance(tmp_path)
    other = f"not-{HOST}"
    instance.add_run(make_run("queued", status=RunStatus.QUEUED, pid=None, heartbeat=None))
    instance.add_run(make_run("canceling", status=RunStatus.CANCELING, hostname=other))
    instance.add_run(make_run("started", hostname=other))
    assert {run.status for run in instance.runs()} == {
        RunStatus.QUEUED,
        RunStatus.CANCELING,
        RunStatus.STARTED,
    }
    time.sleep(0.6)
    statuses = {run.run_id: run.status for run in instance.runs()}
    assert statuses == {
        "queued": RunStatus.QUEUED,
        "canceling": RunStatus.CANCELED,  # its driver died while canceling it
        "started": RunStatus.FAILURE,
    }
    assert [e.type for e in instance.events("canceling")] == [EventType.RUN_CANCELED]


@linux_only
def test_a_dead_run_whose_success_was_stored_is_a_success(instance):
    instance.add_run(make_run("done", process_start="not-this-process"))
    instance.store_events([log("done", 0), log("done", 1, EventType.RUN_SUCCESS)])
    run = instance.get_run("done")
    assert run.status is RunStatus.SUCCESS
    assert len(instance.events("done")) == 2


def test_watch_yields_events_live_and_stops_at_run_end(instance):
    instance.add_run(make_run("r1"))
    got_first = threading.Event()

    def write() -> None:
        instance.store_events([log("r1", 0, EventType.RUN_START)])
        assert got_first.wait(10)
        for seq in range(1, 4):
            instance.store_events([log("r1", seq)])
            time.sleep(0.02)
        instance.store_events([log("r1", 4, EventType.RUN_SUCCESS), log("r1", 5)])

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    for record in instance.watch("r1", poll_interval=0.01, timeout=20):
        seen.append(record.seq)
        got_first.set()
    writer.join()
    assert seen == [0, 1, 2, 3, 4]


def _run_in_process(home: str, started, go) -> None:
    with Instance(home) as instance:
        instance.add_run(make_run("proc", pid=os.getpid(), process_start=current_process_token()))
        sink = EventSink("proc", instance.storage)
        sink.emit(EventType.RUN_START)
        sink.flush()
        started.set()
        if not go.wait(20):
            raise TimeoutError("the watcher never saw the first event")
        for step in ("a", "b"):
            sink.emit(EventType.STEP_START, step=step)
            sink.emit(EventType.STEP_SUCCESS, step=step)
        sink.emit(EventType.RUN_SUCCESS)
        sink.flush()
        instance.set_run_status("proc", RunStatus.SUCCESS, time.time())


def test_watch_follows_a_run_in_another_process(instance):
    context = multiprocessing.get_context("spawn")
    started, go = context.Event(), context.Event()
    process = context.Process(target=_run_in_process, args=(str(instance.home), started, go))
    process.start()
    try:
        assert started.wait(60)
        seen = []
        for record in instance.watch("proc", poll_interval=0.01, timeout=60):
            seen.append(record.type)
            go.set()
    finally:
        process.join(60)
    assert process.exitcode == 0
    assert seen[0] is EventType.RUN_START
    assert seen[-1] is EventType.RUN_SUCCESS
    assert len(seen) == 6


def test_watch_stops_when_the_run_process_died(instance):
    process, token = start_sleeper()
    process.kill()
    process.wait()
    process.stdout.close()
    instance.add_run(make_run("dead", pid=process.pid, process_start=token))
    instance.store_events([log("dead", 0, EventType.RUN_START)])
    seen = [(e.seq, e.type) for e in instance.watch("dead", poll_interval=0.01, timeout=10)]
    assert seen == [(0, EventType.RUN_START), (1, EventType.RUN_FAILURE)]


def test_watch_stops_at_timeout_and_after_ended_runs(instance):
    instance.add_run(make_run("live"))
    instance.store_events([log("live", 0), log("live", 1)])
    start = time.monotonic()
    assert [e.seq for e in instance.watch("live", after=0, poll_interval=0.05, timeout=0.3)] == [1]
    assert 0.3 <= time.monotonic() - start < 2

    instance.add_run(make_run("canceled", status=RunStatus.CANCELED))
    instance.store_events([log("canceled", 0)])
    assert [e.seq for e in instance.watch("canceled", poll_interval=0.01, timeout=10)] == [0]

    with pytest.raises(KeyError):
        list(instance.watch("missing", timeout=1))


def test_event_pages_read_the_log_in_order_a_page_at_a_time(instance):
    instance.add_run(make_run("paged", status=RunStatus.SUCCESS))
    instance.store_events([log("paged", seq) for seq in range(7)])
    pages = [[e.seq for e in page] for page in instance.event_pages("paged", size=3)]
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    assert [[e.seq for e in p] for p in instance.event_pages("paged", after=2, size=4)] == [
        [3, 4, 5, 6]
    ]
    assert list(instance.event_pages("paged", after=6)) == []


def test_watch_pages_end_with_the_run_end_event(instance):
    instance.add_run(make_run("ended", status=RunStatus.SUCCESS))
    instance.store_events(
        [log("ended", 0), log("ended", 1, EventType.RUN_SUCCESS), log("ended", 2)]
    )
    pages = list(instance.watch_pages("ended", poll_interval=0.01, timeout=10))
    assert [[e.seq for e in page] for page in pages] == [[0, 1]]


def test_a_database_url_that_is_not_a_url_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLIDFLOW_DATABASE_URL", "db.example.com")
    with pytest.raises(InstanceConfigError) as error:
        Instance(tmp_path)
    assert "SOLIDFLOW_DATABASE_URL: 'db.example.com' is not a URL" in str(error.value)


def test_a_database_url_of_an_unknown_scheme_lists_the_backends(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLIDFLOW_DATABASE_URL", "mysql://db/runs")
    with pytest.raises(InstanceConfigError) as error:
        Instance(tmp_path)
    assert "SOLIDFLOW_DATABASE_URL: unknown event log backend 'mysql'" in str(error.value)
