"""Run requests in one process: create_run records QUEUED, launch_run starts, heartbeats,
and the cancel API (a QUEUED run at once, a running one cooperatively)."""

import signal
import threading
import time
from pathlib import Path

import pytest

from solidflow import (
    Config,
    Instance,
    create_run,
    execute_pipeline,
    launch_run,
    pipeline,
    solid,
)
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.run.drive import drive_run
from solidflow.engine.run.launch import InProcessRunLauncher
from solidflow.engine.run.scheduler import StepStatus
from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.errors import ConfigError, RunRequestError


class NapConfig(Config):
    seconds: float = 0.0


@solid
def first() -> int:
    return 1


@solid
def nap(config: NapConfig, x: int) -> int:
    time.sleep(config.seconds)
    return x + 1


@solid
def last(x: int) -> int:
    return x * 10


@pipeline(tags={"team": "data"})
def napping() -> None:
    last(nap(first()))


def naps(seconds: float) -> dict:
    return {"solids": {"nap": {"config": {"seconds": seconds}}}}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text("run_monitoring: {heartbeat_interval: 0.05}\n")
    return home


@pytest.fixture
def instance(home: Path) -> Instance:
    with Instance(home) as opened:
        yield opened


def test_a_created_run_is_queued_with_its_plan_and_nothing_runs(instance):
    config = {"solids": {"nap": {"config": {"seconds": 0}, "inputs": {"x": 4}}}}
    run = create_run(
        napping,
        config,
        solid_selection="nap*",
        instance=instance,
        tags={"who": "me"},
        memoize=True,
        target="somewhere.py:napping",
    )
    assert run == instance.get_run(run.run_id)
    assert run.status is RunStatus.QUEUED
    assert (run.step_keys, run.solid_selection) == (("nap", "last"), ("nap*",))
    assert (run.executor, run.memoize, run.mode) == ("in_process", True, "default")
    assert run.tags == {"team": "data", "who": "me"}
    assert run.run_config == config and run.target == "somewhere.py:napping"
    assert run.start_time is run.pid is run.heartbeat is None
    assert instance.events(run.run_id) == []
    assert IntermediateStore(instance.config.storage.root).list() == []


def test_an_invalid_request_is_recorded_as_failed(instance):
    with pytest.raises(ConfigError) as error:
        create_run(napping, {"solids": {"nap": {"config": {"seconds": "long"}}}}, instance=instance)
    run = instance.get_run(error.value.run_id)
    assert run.status is RunStatus.FAILURE
    [failure] = instance.events(run.run_id)
    assert failure.type is EventType.RUN_FAILURE and "solids.nap.config.seconds" in failure.message


def test_launching_runs_a_queued_run_once(instance):
    run = create_run(napping, naps(0), instance=instance)
    launched = launch_run(run.run_id, instance=instance, launcher=InProcessRunLauncher(napping))
    assert launched.result.success and launched.result.output_for("last") == 20
    ended = launched.wait(timeout=1)
    assert ended.status is RunStatus.SUCCESS
    assert ended.start_time >= run.create_time and ended.end_time >= ended.start_time
    assert ended.heartbeat is not None and ended.pid is not None
    with pytest.raises(RunRequestError, match="is SUCCESS: only a QUEUED run can be launched"):
        launch_run(run.run_id, instance=instance, launcher="in_process")
    with pytest.raises(RunRequestError, match="no run with id 'nope'"):
        launch_run("nope", instance=instance, launcher="in_process")


def test_the_in_process_launcher_loads_the_pipeline_from_the_target(instance):
    run = create_run(napping, naps(0), instance=instance)
    assert run.target.endswith("test_run_requests:napping")
    assert launch_run(run.run_id, instance=instance, launcher="in_process").result.success

    @pipeline
    def local() -> None:
        first()

    untargeted = create_run(local, instance=instance)
    assert untargeted.target is None
    with pytest.raises(RunRequestError, match="did not record where its pipeline is defined"):
        launch_run(untargeted.run_id, instance=instance, launcher="in_process")
    failed = instance.get_run(untargeted.run_id)
    assert failed.status is RunStatus.FAILURE
    [event] = instance.events(failed.run_id)
    assert event.message.startswith("run could not be launched: RunRequestError: ")


def test_canceling_a_queued_run_ends_it_at_once(instance):
    run = create_run(napping, naps(0), instance=instance)
    canceled = instance.cancel_run(run.run_id)
    assert canceled.status is RunStatus.CANCELED and canceled.end_time is not None
    [event] = instance.events(run.run_id)
    assert event.type is EventType.RUN_CANCELED
    assert event.message == "run canceled before it started"
    with pytest.raises(RunRequestError, match="is CANCELED: only a QUEUED run can be launched"):
        launch_run(run.run_id, instance=instance, launcher="in_process")
    with pytest.raises(RunRequestError, match="already ended: CANCELED"):
        instance.cancel_run(run.run_id)
    with pytest.raises(RunRequestError, match="no run with id 'nope'"):
        instance.cancel_run("nope")


def test_a_run_canceled_before_its_driver_starts_ends_without_running(instance):
    run = create_run(napping, naps(0), instance=instance)
    instance.storage.update_run(run.run_id, status=RunStatus.STARTING)
    assert instance.cancel_run(run.run_id).status is RunStatus.CANCELING
    result = drive_run(instance.get_run(run.run_id), napping, instance)
    assert result.status is RunStatus.CANCELED
    assert [e.type for e in instance.events(run.run_id)] == [EventType.RUN_CANCELED]
    assert result.result_for("first").status is StepStatus.PENDING


def _cancel_when_nap_starts(instance: Instance, run_ids: list[str]) -> threading.Thread:
    """A thread that cancels the run whose id lands in `run_ids` once its step nap started
    (waiting for it as long as a loaded machine may need)."""

    def cancel() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if run_ids and any(e.step == "nap" for e in instance.events(run_ids[0])):
                instance.cancel_run(run_ids[0])
                return
            time.sleep(0.02)

    thread = threading.Thread(target=cancel)
    thread.start()
    return thread


def test_a_cancel_from_elsewhere_interrupts_a_long_step_in_the_main_thread(instance):
    run_ids: list[str] = []
    canceller = _cancel_when_nap_starts(instance, run_ids)

    def listen(event):
        if event.type is EventType.RUN_START:
            run_ids.append(event.run_id)

    started = time.monotonic()
    result = execute_pipeline(napping, naps(600), instance=instance, on_event=listen)
    canceller.join()
    assert time.monotonic() - started < 300  # the 600 s step did not run to its end
    assert result.status is RunStatus.CANCELED
    assert instance.get_run(result.run_id).status is RunStatus.CANCELED
    assert result.result_for("first").success
    assert result.result_for("nap").status is StepStatus.CANCELED
    assert result.result_for("last").status is StepStatus.PENDING
    events = instance.events(result.run_id)
    [interrupted] = [e for e in events if e.type is EventType.STEP_FAILURE]
    assert interrupted.step == "nap" and interrupted.payload["kind"] == "interrupted"
    end = events[-1]
    assert end.type is EventType.RUN_CANCELED
    assert end.payload["completed_steps"] == ["first"]
    assert end.payload["interrupted_steps"] == ["nap"]
    assert end.payload["not_started_steps"] == ["last"]
    assert end.payload["reason"] == "cancel requested"
    store = IntermediateStore(instance.config.storage.root)
    [kept] = store.list()  # the completed step's output is kept
    assert kept.step == "first" and store.check([kept.key])[kept.key][0] is OutputStatus.PRESENT


def test_a_process_that_ignores_sigint_is_still_interrupted_by_a_cancel(instance):
    """A driver started with SIGINT ignored (a background job of a script, say): a cancel
    still interrupts its step (the monitor interrupts a step by SIGINT), and the process
    ignores SIGINT again after the run."""
    run_ids: list[str] = []
    canceller = _cancel_when_nap_starts(instance, run_ids)

    def listen(event):
        if event.type is EventType.RUN_START:
            run_ids.append(event.run_id)

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        started = time.monotonic()
        result = execute_pipeline(napping, naps(600), instance=instance, on_event=listen)
        canceller.join()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # as it was before the run
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 300  # the 600 s step did not run to its end
    assert result.status is RunStatus.CANCELED
    assert result.result_for("nap").status is StepStatus.CANCELED
    assert result.events[-1].payload["reason"] == "cancel requested"


def test_a_run_driven_by_another_thread_stops_between_steps(instance):
    outcome = {}

    def drive() -> None:
        outcome["result"] = execute_pipeline(napping, naps(0.6), instance=instance)

    driver = threading.Thread(target=drive)
    driver.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = instance.runs()
        if runs and any(e.step == "nap" for e in instance.events(runs[0].run_id)):
            break
        time.sleep(0.01)
    instance.cancel_run(runs[0].run_id)
    driver.join(30)
    result = outcome["result"]
    assert result.status is RunStatus.CANCELED
    assert result.result_for("nap").success  # not the main thread: the step ran to its end
    assert result.result_for("last").status is StepStatus.PENDING


def test_the_driver_heartbeats_while_the_run_runs(instance):
    beats: set[float] = set()
    run_ids: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if run_ids:
                run = instance.storage.get_run(run_ids[0])
                if run.status is RunStatus.STARTED:
                    beats.add(run.heartbeat)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = execute_pipeline(
            napping,
            naps(0.5),
            instance=instance,
            on_event=lambda event: run_ids.append(event.run_id),
        )
    finally:
        done.set()
        watcher.join()
    assert result.success
    assert len(beats) >= 4  # every 0.05 s for 0.5 s, give or take a loaded machine


def test_a_driver_whose_run_another_process_ended_stops(instance):
    run_ids: list[str] = []

    def fail_it() -> None:
        while not run_ids:
            time.sleep(0.01)
        time.sleep(0.2)
        instance.storage.update_run(run_ids[0], status=RunStatus.FAILURE, end_time=time.time())

    killer = threading.Thread(target=fail_it)
    killer.start()
    result = execute_pipeline(
        napping, naps(60), instance=instance, on_event=lambda event: run_ids.append(event.run_id)
    )
    killer.join()
    assert result.status is RunStatus.CANCELED
    assert "ended by another process (FAILURE)" in result.events[-1].message
