"""Run lifecycle with real processes: runs launched in a subprocess, `solidflow cancel` from
another process, and a driver that stops sending heartbeats."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from solidflow import Instance, create_run, launch_run
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.run.subprocess_launcher import SubprocessLaunch
from solidflow.engine.run.targets import load_pipeline
from tests.e2e.conftest import SOLIDFLOW, target


def _slow(tmp_path: Path, seconds: float) -> str:
    (tmp_path / "slow.yaml").write_text(f"solids:\n  nap:\n    config:\n      seconds: {seconds}\n")
    return "slow.yaml"


def _wait_for_nap(instance: Instance, run_id: str | None = None, timeout: float = 60) -> str:
    """The id of the run (the only one, unless given) once its step nap logged that it sleeps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [instance.get_run(run_id)] if run_id else instance.runs()
        if (
            runs
            and runs[0]
            and any(e.message == "going to sleep" for e in instance.events(runs[0].run_id))
        ):
            return runs[0].run_id
        time.sleep(0.05)
    raise TimeoutError("the step nap never started")


def _settings(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "solidflow.yaml").write_text(text)


def test_cancel_from_another_process_stops_a_running_run(cli, home, instance, tmp_path):
    env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
    runner = subprocess.Popen(
        [*SOLIDFLOW, "run", target("sleepy"), "-c", _slow(tmp_path, 60)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = _wait_for_nap(instance)
        started = time.monotonic()
        canceled = cli("cancel", run_id[:8], "--wait")
        assert canceled.code == 0, canceled.err
        assert canceled.out.strip() == f"run {run_id}: CANCELED"
        _, err = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert time.monotonic() - started < 15
    assert runner.returncode == 130 and "Traceback" not in err
    events = instance.events(run_id)
    assert events[-1].type is EventType.RUN_CANCELED
    assert events[-1].payload["reason"] == "cancel requested"
    assert events[-1].payload["interrupted_steps"] == ["nap"]
    again = cli("cancel", run_id)
    assert again.code == 2 and f"run {run_id} already ended: CANCELED" in again.err


def test_cancel_of_a_queued_run_and_of_no_run(cli, instance):
    pipeline, loadable = load_pipeline(target("sleepy"))
    run = create_run(pipeline, instance=instance, target=loadable)
    done = cli("cancel", run.run_id)
    assert (done.code, done.out.strip()) == (0, f"run {run.run_id}: CANCELED")
    assert [e.type for e in instance.events(run.run_id)] == [EventType.RUN_CANCELED]
    missing = cli("cancel", "f00")
    assert missing.code == 2 and "no run with id 'f00'" in missing.err


def test_a_run_launched_in_a_subprocess_runs_there_and_can_be_canceled(home, instance, tmp_path):
    pipeline, loadable = load_pipeline(target("sleepy"))
    quick = create_run(pipeline, instance=instance, target=loadable)
    launched = launch_run(quick.run_id, instance=instance, launcher="subprocess")
    assert isinstance(launched, SubprocessLaunch)
    ended = launched.wait(timeout=60)
    assert ended.status is RunStatus.SUCCESS, Path(launched.log_path).read_text()
    assert ended.pid == launched.process.pid != os.getpid()
    assert launched.process.wait(timeout=30) == 0

    slow = create_run(
        pipeline,
        {"solids": {"nap": {"config": {"seconds": 60}}}},
        instance=instance,
        target=loadable,
    )
    launched = launch_run(slow.run_id, instance=instance, launcher="subprocess")
    _wait_for_nap(instance, slow.run_id)
    assert instance.cancel_run(slow.run_id).status is RunStatus.CANCELING
    assert launched.wait(timeout=30).status is RunStatus.CANCELED
    assert launched.process.wait(timeout=30) == 130


def test_a_driver_that_stops_sending_heartbeats_is_failed_by_a_reader(home, tmp_path):
    _settings(home, "run_monitoring: {heartbeat_interval: 0.1, heartbeat_timeout: 2}\n")
    instance = Instance(home)
    runner = subprocess.Popen(
        [*SOLIDFLOW, "run", target("sleepy"), "-c", _slow(tmp_path, 60)],
        env={**os.environ, "SOLIDFLOW_HOME": str(home)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _wait_for_nap(instance)
        runner.send_signal(signal.SIGSTOP)  # alive to a pid check, but silent
        stopped = time.monotonic()
        while instance.get_run(run_id).status is RunStatus.STARTED:
            assert time.monotonic() - stopped < 30
            time.sleep(0.1)
        assert time.monotonic() - stopped >= 1.5
        run = instance.get_run(run_id)
    finally:
        runner.kill()
        runner.wait()
    assert run.status is RunStatus.FAILURE
    failure = instance.events(run_id)[-1]
    assert failure.type is EventType.RUN_FAILURE
    assert f"run process {runner.pid} on " in failure.message
    assert (
        "stopped sending heartbeats" in failure.message
        and "(heartbeat_timeout: 2 s)" in failure.message
    )
