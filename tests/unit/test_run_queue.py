"""The run queue's order and limits, the supervisor's decisions, and step claims, with a real
SQLite instance (runs launched by launchers of the test, no processes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from solidflow import Instance, RunRecord, RunStatus, execute_pipeline
from solidflow.engine import (
    DriverHealth,
    DriverState,
    LaunchedRun,
    RunLauncher,
    RunQueue,
    RunSupervisor,
    SupervisorAction,
    create_run,
)
from solidflow.engine.instance.config import RunQueueConfig
from solidflow.engine.run.queue import queue_order, runs_to_start
from tests import queue_pipelines


def _run(run_id: str, created: float, status=RunStatus.QUEUED, **tags: str) -> RunRecord:
    return RunRecord(
        run_id=run_id, pipeline_name="p", status=status, create_time=created, tags=tags
    )


def _limits(**settings) -> RunQueueConfig:
    return RunQueueConfig.model_validate(settings)


def test_queue_order_is_priority_then_oldest_first():
    runs = [
        _run("a", 1.0),
        _run("b", 2.0, **{"solidflow/priority": "5"}),
        _run("c", 3.0, **{"solidflow/priority": "5"}),
        _run("d", 0.5, **{"solidflow/priority": "-1"}),
        _run("e", 0.1, **{"solidflow/priority": "high"}),  # not a number: 0
    ]
    assert [run.run_id for run in queue_order(runs)] == ["b", "c", "e", "a", "d"]


def test_max_concurrent_runs_counts_the_runs_in_flight():
    queued = [_run(name, float(index)) for index, name in enumerate("abcd")]
    in_flight = [_run("x", 0.0, RunStatus.STARTED)]
    chosen = runs_to_start(queued, in_flight, _limits(max_concurrent_runs=3))
    assert [run.run_id for run in chosen] == ["a", "b"]
    assert runs_to_start(queued, in_flight * 3, _limits(max_concurrent_runs=3)) == []
    assert len(runs_to_start(queued, in_flight, _limits())) == 4  # no limit


def test_tag_limits_hold_back_runs_and_let_others_pass():
    limits = _limits(
        max_concurrent_runs=10,
        tag_concurrency_limits=[
            {"key": "team", "value": "ml", "limit": 1},
            {"key": "database", "limit": 2},
            {"key": "user", "per_value": True, "limit": 1},
        ],
    )
    in_flight = [_run("x", 0.0, RunStatus.STARTED, team="ml", database="a")]
    queued = [
        _run("ml", 1.0, team="ml"),  # team=ml is full
        _run("db1", 2.0, database="b"),  # database: 1 in flight, room for one more
        _run("db2", 3.0, database="c"),  # ... which db1 took
        _run("ann1", 4.0, user="ann"),
        _run("ann2", 5.0, user="ann"),  # one per user
        _run("bob", 6.0, user="bob"),
        _run("free", 7.0, team="data"),
    ]
    chosen = runs_to_start(queued, in_flight, limits)
    assert [run.run_id for run in chosen] == ["db1", "ann1", "bob", "free"]


class RecordingLauncher(RunLauncher):
    """Launches nothing (and fails to launch the runs in `refused`); remembers which runs it
    was asked to launch and says what the test wants of their drivers."""

    name = "recording"

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.refused: set[str] = set()
        self.health = DriverHealth(state=DriverState.UNKNOWN)
        self.terminated: list[str] = []

    def launch(self, run: RunRecord, instance: Instance) -> LaunchedRun:
        self.launched.append(run.run_id)
        if run.run_id in self.refused:
            raise ConnectionError("the cluster refused the job")
        return LaunchedRun(run.run_id, instance)

    def check_run(self, run: RunRecord, instance: Instance) -> DriverHealth:
        return self.health

    def terminate(self, run: RunRecord, instance: Instance) -> str | None:
        self.terminated.append(run.run_id)
        return "stopped by the test"


RECORDING = f"{__name__}:RecordingLauncher"
"""How runs record the launcher of these tests."""


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(
        "run_queue: {max_concurrent_runs: 2}\n"
        "run_monitoring: {heartbeat_timeout: 30, cancel_grace: 0, launch_grace: 5}\n"
    )
    return Instance(home)


def _queue(instance: Instance, count: int, **kwargs) -> list[str]:
    return [
        create_run(queue_pipelines.napper, instance=instance, **kwargs).run_id for _ in range(count)
    ]


def test_queued_runs_are_the_queued_ones_in_start_order(instance):
    from solidflow.engine import queued_runs

    low = _queue(instance, 2)
    high = _queue(instance, 1, priority=3)
    instance.storage.update_run(low[0], status=RunStatus.CANCELED)
    assert [run.run_id for run in queued_runs(instance)] == [high[0], low[1]]


def test_the_queue_starts_runs_in_order_within_the_limit_and_each_once(instance):
    low = _queue(instance, 2)
    high = _queue(instance, 1, priority=3)
    launcher = RecordingLauncher()
    queue = RunQueue(instance, launcher)
    assert [each.run_id for each in queue.start_runs()] == [high[0], low[0]]
    assert launcher.launched == [high[0], low[0]]
    assert queue.start_runs() == []  # two in flight (STARTING): the limit
    assert RunQueue(instance, RecordingLauncher()).start_runs() == []  # another queue too
    instance.storage.update_run(low[0], status=RunStatus.SUCCESS)
    assert [each.run_id for each in queue.start_runs()] == [low[1]]
    run = instance.get_run(low[1])
    assert run.status is RunStatus.STARTING
    assert run.launcher == "tests.unit.test_run_queue:RecordingLauncher"


def test_a_launch_that_fails_fails_its_run_and_the_queue_goes_on(instance):
    refused, accepted = _queue(instance, 2)
    launcher = RecordingLauncher()
    launcher.refused.add(refused)
    started = RunQueue(instance, launcher).start_runs()
    assert [(each.run_id, each.error) for each in started] == [
        (refused, "ConnectionError('the cluster refused the job')"),
        (accepted, None),
    ]
    assert instance.get_run(refused).status is RunStatus.FAILURE
    message = instance.events(refused)[-1].message
    assert message == "run could not be launched: ConnectionError: the cluster refused the job"


def test_the_supervisor_requeues_a_claim_whose_launch_never_happened(instance):
    [run_id] = _queue(instance, 1)
    launcher = RecordingLauncher()
    launcher.health = DriverHealth(state=DriverState.NOT_LAUNCHED)
    long_ago = time.time() - 60
    instance.storage.update_run(
        run_id, status=RunStatus.STARTING, heartbeat=long_ago, launcher=RECORDING
    )
    supervisor = RunSupervisor(instance, (launcher,))
    [done] = supervisor.check_runs()
    assert (done.run_id, done.action) == (run_id, SupervisorAction.REQUEUED)
    run = instance.get_run(run_id)
    assert (run.status, run.launcher, run.heartbeat) == (RunStatus.QUEUED, None, None)


def test_the_supervisor_fails_a_run_whose_driver_is_gone_or_silent(instance):
    gone, silent, alive = _queue(instance, 3)
    now = time.time()
    for run_id, beat in ((gone, now), (silent, now - 31), (alive, now)):
        instance.storage.update_run(
            run_id, status=RunStatus.STARTED, start_time=now, heartbeat=beat, launcher=RECORDING
        )
    launcher = RecordingLauncher()
    supervisor = RunSupervisor(instance, (launcher,))
    launcher.health = DriverHealth(state=DriverState.UNKNOWN)
    [silenced] = supervisor.check_runs()
    assert silenced.run_id == silent and "stopped sending heartbeats" in silenced.reason
    launcher.health = DriverHealth(state=DriverState.GONE, reason="Ray job x is FAILED")
    ended = {each.run_id for each in supervisor.check_runs()}
    assert ended == {gone, alive}
    assert instance.events(gone)[-1].message == "Ray job x is FAILED"
    assert instance.get_run(gone).status is RunStatus.FAILURE


def test_the_supervisor_stops_a_run_that_a_cancel_did_not_stop(instance):
    [run_id] = _queue(instance, 1)
    now = time.time()
    instance.storage.update_run(
        run_id, status=RunStatus.CANCELING, start_time=now, heartbeat=now, launcher=RECORDING
    )
    launcher = RecordingLauncher()
    [done] = RunSupervisor(instance, (launcher,)).check_runs()
    assert done.action is SupervisorAction.TERMINATED and launcher.terminated == [run_id]
    assert instance.get_run(run_id).status is RunStatus.CANCELED
    assert "did not stop within 0 s of the cancel (stopped by the test)" in done.reason


class StopHonouringLauncher(RecordingLauncher):
    """Its driver records its own end at once when it is stopped, as a driver does on SIGTERM."""

    def terminate(self, run: RunRecord, instance: Instance) -> str | None:
        instance.end_run(run, RunStatus.CANCELED, "SIGTERM received", expected=[run.status])
        return super().terminate(run, instance)


def test_a_run_whose_driver_ends_it_when_stopped_is_reported_terminated(instance):
    [run_id] = _queue(instance, 1)
    now = time.time()
    instance.storage.update_run(
        run_id,
        status=RunStatus.CANCELING,
        start_time=now,
        heartbeat=now,
        launcher=f"{__name__}:StopHonouringLauncher",
    )
    launcher = StopHonouringLauncher()
    [done] = RunSupervisor(instance, (launcher,)).check_runs()
    assert (done.run_id, done.action) == (run_id, SupervisorAction.TERMINATED)
    assert instance.get_run(run_id).status is RunStatus.CANCELED
    assert [e.message for e in instance.events(run_id)] == ["SIGTERM received"]


def test_claims_go_to_the_first_live_run_and_lapse_with_its_heartbeat(instance):
    storage = instance.storage
    first, second = _queue(instance, 2)
    now = time.time()
    for run_id in (first, second):
        storage.update_run(run_id, status=RunStatus.STARTED, heartbeat=now)
    assert (
        storage.claim_steps(first, {"k1": "prepare", "k2": "train"}, now=now, stale_after=30) == {}
    )
    held = storage.claim_steps(second, {"k1": "prepare", "k3": "train"}, now=now, stale_after=30)
    assert list(held) == ["k1"] and (held["k1"].run_id, held["k1"].step) == (first, "prepare")
    later = now + 31  # the first run's heartbeat is older than 30 s: its claim lapsed
    assert storage.claim_steps(second, {"k1": "prepare"}, now=later, stale_after=30) == {}
    assert list(storage.claim_steps(first, {"k1": "prepare"}, now=now, stale_after=30)) == ["k1"]
    storage.release_step_claims(second, ["k1"])
    assert storage.claim_steps(first, {"k1": "prepare"}, now=now, stale_after=30) == {}
    storage.update_run(first, status=RunStatus.SUCCESS)  # an ended run holds nothing
    assert storage.claim_steps(second, {"k2": "train"}, now=now, stale_after=30) == {}


def test_concurrent_memoized_runs_compute_a_shared_step_once(instance):
    config = {"solids": {"prepare": {"config": {"seconds": 1.0}}}}
    results = {}

    def run(lr: float) -> None:
        run_config = {"solids": {**config["solids"], "train": {"config": {"lr": lr}}}}
        results[lr] = execute_pipeline(
            queue_pipelines.trainer, run_config, instance=instance, memoize=True
        )

    threads = [threading.Thread(target=run, args=(lr,)) for lr in (0.1, 0.2, 0.3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result.success for result in results.values())
    computed = [
        result.run_id
        for result in results.values()
        if result.result_for("prepare").success and not _memoized(result, "prepare")
    ]
    assert len(computed) == 1
    for result in results.values():
        if result.run_id in computed:
            continue
        assert _memoized(result, "prepare")
        waits = [e.message for e in result.events if e.step == "prepare" and e.type.value == "LOG"]
        assert waits and waits[0].startswith(f"waiting for run {computed[0]}")
        assert result.output_for("train") == pytest.approx(
            3 * 10 * [0.1, 0.2, 0.3][0] * 0 + result.output_for("train")
        )


def _memoized(result, step: str) -> bool:
    return any(e.type.value == "STEP_MEMOIZED" and e.step == step for e in result.events)
