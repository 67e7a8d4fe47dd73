"""The daemon with real processes: `solidflow daemon` starts queued runs as subprocesses in
priority order within the limits, fails runs whose process was killed, stops a cancel that
does not stop, survives its own SIGKILL, and runs sweeps whose shared steps run once."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from solidflow import Instance, RunStatus, create_run
from solidflow.engine import EventType
from tests import queue_pipelines
from tests.e2e.conftest import SOLIDFLOW
from tests.waiting import wait_for

WORKSPACE = str(Path(queue_pipelines.__file__))
TRAINER = f"{WORKSPACE}:trainer"


def _settings(home: Path, max_runs: int, **monitoring: float) -> None:
    home.mkdir(parents=True, exist_ok=True)
    watch = {"heartbeat_interval": 0.2, "heartbeat_timeout": 10, "check_interval": 0.2}
    watch.update(monitoring)
    (home / "solidflow.yaml").write_text(
        f"run_queue: {{max_concurrent_runs: {max_runs}, dequeue_interval: 0.05}}\n"
        f"run_monitoring: {watch}\n"
    )


class DaemonProcess:
    """`solidflow daemon` in its own session, its output in a file."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home = home
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*SOLIDFLOW, "daemon", "-w", WORKSPACE],
                env={**os.environ, "SOLIDFLOW_HOME": str(self.home)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: the daemon only, not the runs it started
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def daemon(home: Path, tmp_path: Path, instance: Instance) -> Iterator[DaemonProcess]:
    process = DaemonProcess(home, tmp_path / "daemon.log")
    try:
        yield process
    finally:
        process.stop()
        for run in instance.storage.get_runs([s for s in RunStatus if s.alive]):
            if run.pid is not None:  # a driver the test left running
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)


def _all_ended(instance: Instance, run_ids: list[str]) -> Callable[[], bool]:
    return lambda: all(instance.get_run(run_id).status.ended for run_id in run_ids)


def _nap(instance: Instance, seconds: float, **kwargs) -> str:
    config = {"solids": {"nap": {"config": {"seconds": seconds, **kwargs.pop("nap", {})}}}}
    return create_run(queue_pipelines.napper, config, instance=instance, **kwargs).run_id


def test_queued_runs_start_by_priority_then_age_one_at_a_time(home, instance, daemon, cli):
    _settings(home, max_runs=1)
    launched = cli("launch", f"{WORKSPACE}:napper", "--priority", "1", "--tag", "team=ml")
    assert launched.code == 0, launched.err
    by_cli = launched.out.strip()
    assert instance.get_run(by_cli).status is RunStatus.QUEUED
    first, second = _nap(instance, 0.2), _nap(instance, 0.2)
    urgent = _nap(instance, 0.2, priority=5)
    daemon.start()
    order = [urgent, by_cli, first, second]
    wait_for(_all_ended(instance, order), what="the runs to end")
    runs = [instance.get_run(run_id) for run_id in order]
    assert [run.status for run in runs] == [RunStatus.SUCCESS] * 4
    assert sorted(runs, key=lambda run: run.start_time) == runs
    for earlier, later in itertools.pairwise(runs):
        assert later.start_time >= earlier.end_time  # never two at once
    assert {run.launcher for run in runs} == {"subprocess"}


def test_runs_in_flight_stay_within_the_limit(home, instance, daemon):
    _settings(home, max_runs=2)
    run_ids = [_nap(instance, 1.0) for _ in range(5)]
    daemon.start()
    wait_for(_all_ended(instance, run_ids), what="the runs to end")
    runs = [instance.get_run(run_id) for run_id in run_ids]
    assert all(run.status is RunStatus.SUCCESS for run in runs)
    moments = sorted(
        [(run.start_time, 1) for run in runs] + [(run.end_time, -1) for run in runs],
        key=lambda moment: (moment[0], moment[1]),
    )
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    assert peak == 2


def test_cancel_a_queued_and_a_running_run(home, instance, daemon, cli):
    _settings(home, max_runs=1)
    running, waiting = _nap(instance, 60), _nap(instance, 0)
    daemon.start()
    wait_for(lambda: _said(instance, running, "going to sleep"), what="the nap to start")
    canceled = cli("cancel", waiting)
    assert canceled.out.strip() == f"run {waiting}: CANCELED"
    assert cli("cancel", running, "--wait").out.strip() == f"run {running}: CANCELED"
    end = instance.events(running)[-1]
    assert end.type is EventType.RUN_CANCELED and end.payload["interrupted_steps"] == ["nap"]
    time.sleep(0.5)  # the daemon had its chances to start the canceled queued run
    assert instance.get_run(waiting).start_time is None
    assert [e.type for e in instance.events(waiting)] == [EventType.RUN_CANCELED]


def test_a_cancel_that_does_not_stop_the_run_ends_in_a_kill(home, instance, daemon, cli):
    _settings(home, max_runs=1, cancel_grace=1)
    stubborn = _nap(instance, 120, nap={"ignore_interrupts": True})
    daemon.start()
    wait_for(lambda: _said(instance, stubborn, "going to sleep"), what="the nap to start")
    pid = instance.get_run(stubborn).pid
    cli("cancel", stubborn)
    wait_for(lambda: instance.get_run(stubborn).status.ended, timeout=30, what="the kill")
    run = instance.get_run(stubborn)
    assert run.status is RunStatus.CANCELED
    message = instance.events(stubborn)[-1].message
    assert message == (
        f"run canceled: its driver did not stop within 1 s of the cancel (run process {pid} killed)"
    )
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what="the process to go")


def test_a_killed_run_process_is_failed_by_the_daemon(home, instance, daemon):
    _settings(home, max_runs=1, heartbeat_timeout=600)  # the launcher notices, not the heartbeat
    victim = _nap(instance, 120)
    daemon.start()
    wait_for(lambda: _said(instance, victim, "going to sleep"), what="the nap to start")
    pid = instance.get_run(victim).pid
    os.kill(pid, signal.SIGKILL)
    # Read the run storage as it is: Instance.get_run would itself end a run whose driver
    # on this host is gone.
    stored = instance.storage.get_run
    wait_for(lambda: stored(victim).status.ended, timeout=30, what="the failure")
    assert stored(victim).status is RunStatus.FAILURE
    assert instance.events(victim)[-1].message == (
        f"run process {pid} was killed by SIGKILL without finishing the run"
    )


def test_a_daemon_killed_and_restarted_loses_and_repeats_no_run(home, instance, daemon):
    _settings(home, max_runs=2)
    run_ids = [_nap(instance, 1.5) for _ in range(6)]
    daemon.start()
    wait_for(lambda: _started(instance, run_ids) >= 3, what="three runs to start")
    daemon.kill()
    left = _started(instance, run_ids)
    time.sleep(2)  # the runs it started go on without it; nothing else starts
    assert _started(instance, run_ids) == left
    daemon.start()
    wait_for(_all_ended(instance, run_ids), what="the runs to end")
    for run_id in run_ids:
        assert instance.get_run(run_id).status is RunStatus.SUCCESS
        starts = [e for e in instance.events(run_id) if e.type is EventType.RUN_START]
        assert len(starts) == 1


def test_a_sweep_of_3_by_2_points_computes_the_shared_step_once(
    home, instance, daemon, cli, tmp_path
):
    _settings(home, max_runs=6)
    (tmp_path / "base.yaml").write_text("solids:\n  prepare:\n    config:\n      seconds: 2\n")
    daemon.start()
    done = cli(
        "sweep",
        TRAINER,
        "-c",
        "base.yaml",
        "--grid",
        "solids.train.config.lr=0.1,0.01,0.001",
        "--grid",
        "solids.train.config.depth=3,5",
        "--metric",
        "evaluate.auc",
        "--metric",
        "train.result",
        timeout=180,
    )
    assert done.code == 0, done.err + done.out
    runs = [run for run in instance.runs() if "solidflow/sweep" in run.tags]
    assert len(runs) == 6 and all(run.status is RunStatus.SUCCESS for run in runs)
    prepared = [
        run.run_id
        for run in runs
        for event in instance.events(run.run_id)
        if event.step == "prepare" and event.type is EventType.STEP_SUCCESS
    ]
    assert len(prepared) == 1
    lines = [line for line in done.out.splitlines() if "SUCCESS" in line]
    assert len(lines) == 6
    cells = {line.split("│")[2].strip(): line.split("│") for line in lines}
    # columns: run id, point, status, duration, evaluate.auc, train.result, computed, served
    assert cells["lr=0.1 depth=3"][6].strip() == "3"  # train.result: 0.1 * 3 * 10
    assert cells["lr=0.01 depth=5"][5].strip() == f"{1 / 1.5:.4g}"  # evaluate.auc
    computed_served = sorted((cells[p][7].strip(), cells[p][8].strip()) for p in cells)
    assert computed_served == [("2", "1")] * 5 + [("3", "0")]


def test_a_run_that_dies_holding_a_shared_step_hands_it_over(home, instance, daemon):
    _settings(home, max_runs=2, heartbeat_timeout=2)
    from solidflow.engine import launch_sweep

    sweep = launch_sweep(
        queue_pipelines.trainer,
        {"solids": {"prepare": {"config": {"seconds": 60}}}},
        {"solids.train.config.lr": [0.1, 0.2]},
        instance=instance,
    )
    run_ids = [each.run_id for each in sweep.runs]
    daemon.start()
    holder = wait_for(
        lambda: next((r for r in run_ids if _said(instance, r, "preparing in process")), None),
        what="a run to compute the shared step",
    )
    waiter = next(run_id for run_id in run_ids if run_id != holder)
    wait_for(lambda: _said(instance, waiter, "waiting for run"), what="the other run to wait")
    os.kill(instance.get_run(holder).pid, signal.SIGKILL)
    wait_for(
        lambda: _said(instance, waiter, "computing the step here"), timeout=30, what="takeover"
    )
    assert instance.get_run(holder).status is RunStatus.FAILURE
    instance.cancel_run(waiter)  # it computes the step (60 s): enough to have seen it take over


def _said(instance: Instance, run_id: str, text: str) -> bool:
    return any(text in event.message for event in instance.events(run_id))


def _started(instance: Instance, run_ids: list[str]) -> int:
    return sum(1 for run_id in run_ids if instance.get_run(run_id).status is not RunStatus.QUEUED)
