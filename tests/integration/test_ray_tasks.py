"""The task-per-step Ray executor (`ray_tasks`) against a real local multi-node Ray cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from solidflow import Instance, execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.store import IntermediateStore
from tests.integration import ray_pipelines as pipelines
from tests.integration.events import events_of
from tests.outside_source import check_that_an_outside_change_is_served

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.slow]


def _ray(address: str, **settings) -> dict:
    return {"execution": {"ray_tasks": {"address": address, **settings}}}


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_solids_pinned_by_custom_resources_run_on_both_worker_nodes(ray_address, instance):
    result = execute_pipeline(pipelines.spread, _ray(ray_address), instance=instance)
    assert result.success
    starts = {e.step: e.payload["node_id"] for e in events_of(result, EventType.STEP_START)}
    a_nodes = {starts[f"a{i}"] for i in range(3)}
    b_nodes = {starts[f"b{i}"] for i in range(3)}
    assert len(a_nodes) == 1 and len(b_nodes) == 1 and a_nodes != b_nodes
    assert result.output_for("gather") == 2
    assert {result.output_for(f"a{i}") for i in range(3)} == a_nodes


def test_event_stream_is_complete_and_ordered_per_step(ray_address, instance):
    result = execute_pipeline(pipelines.spread, _ray(ray_address), instance=instance)
    stored = instance.events(result.run_id)
    assert [e.seq for e in stored] == list(range(len(stored)))
    assert [(e.type, e.step) for e in stored] == [(e.type, e.step) for e in result.events]
    for step in ["seed", "gather", *(f"a{i}" for i in range(3)), *(f"b{i}" for i in range(3))]:
        kinds = [e.type for e in stored if e.step == step]
        assert kinds[0] is EventType.STEP_START and kinds[-1] is EventType.STEP_SUCCESS, step
        assert kinds.count(EventType.STEP_OUTPUT) == 1
        worker = {(e.payload["node_id"], e.payload["pid"]) for e in stored if e.step == step}
        assert len(worker) == 1  # every event of a step carries its node and worker pid


def test_outputs_stored_by_workers_are_committed_when_the_run_returns(ray_address, instance):
    result = execute_pipeline(pipelines.spread, _ray(ray_address), instance=instance)
    keys = [
        e.payload["key"] for e in events_of(result, EventType.STEP_OUTPUT) if e.payload["stored"]
    ]
    assert len(keys) == 8
    store = IntermediateStore(instance.config.storage.root)  # sees only committed outputs
    try:
        assert store.committed(keys) == set(keys)
    finally:
        store.close()


def _timeline_names() -> set[str]:
    return {event.get("name", "") for event in ray.timeline()}


def test_step_tasks_reach_rays_task_events_only_when_asked(ray_address, instance):
    quiet = execute_pipeline(pipelines.big_data, _ray(ray_address), instance=instance)
    reported = execute_pipeline(
        pipelines.spread, _ray(ray_address, task_events=True), instance=instance
    )
    assert quiet.success and reported.success
    deadline = time.monotonic() + 30  # workers send task events to Ray every second or so
    while not any("solidflow_gather" in name for name in _timeline_names()):
        assert time.monotonic() < deadline, "the reported run's tasks never reached Ray"
        time.sleep(0.5)
    assert not any("solidflow_big_table" in name for name in _timeline_names())


def test_a_worker_killed_mid_step_is_retried_and_the_run_succeeds(ray_address, instance, tmp_path):
    config = {
        **_ray(ray_address),
        "solids": {"dies_once": {"config": {"marker": str(tmp_path / "killed")}}},
    }
    result = execute_pipeline(pipelines.fragile, config, instance=instance)
    assert result.success, [e.message for e in result.events]
    assert result.output_for("plus_one") == 43
    killed_pid = int((tmp_path / "killed").read_text())
    [retry] = events_of(result, EventType.STEP_RETRY)
    assert retry.step == "dies_once" and retry.payload["reason"] == "worker_died"
    starts = [e for e in events_of(result, EventType.STEP_START) if e.step == "dies_once"]
    assert starts[0].payload["pid"] == killed_pid
    assert starts[-1].payload["pid"] != killed_pid


def test_a_large_table_moves_between_workers_not_through_the_driver(ray_address, instance):
    rows = 25_000_000  # 200 MB of float64
    before = _resident_bytes()
    result = execute_pipeline(
        pipelines.big_data,
        {**_ray(ray_address), "solids": {"big_table": {"config": {"rows": rows}}}},
        instance=instance,
    )
    grown = _resident_bytes() - before
    assert result.success
    assert [e.payload["output"] for e in events_of(result, EventType.STEP_OUTPUT)] == ["result"] * 2
    assert grown < 60 * 2**20, f"the driver grew by {grown / 2**20:.0f} MiB"
    assert result.output_for("table_rows") == rows


def test_memoization_and_reexecution_on_ray(ray_address, instance):
    first = execute_pipeline(pipelines.big_data, _ray(ray_address), instance=instance)
    assert first.success
    again = execute_pipeline(pipelines.big_data, _ray(ray_address), instance=instance, memoize=True)
    assert events_of(again, EventType.STEP_SUCCESS) == []
    assert again.output_for("big_table").num_rows == 1000  # loaded from the store
    changed = execute_pipeline(
        pipelines.big_data,
        {**_ray(ray_address), "solids": {"big_table": {"config": {"rows": 10}}}},
        instance=instance,
        memoize=True,
    )
    assert [e.step for e in events_of(changed, EventType.STEP_SUCCESS)] == [
        "big_table",
        "table_rows",
    ]
    child = reexecute_pipeline(
        first.run_id, solid_selection="table_rows", executor="ray_tasks", instance=instance
    )
    assert [e.step for e in events_of(child, EventType.STEP_SUCCESS)] == ["table_rows"]
    assert child.output_for("table_rows") == 1000  # the worker read the parent's stored table


def test_unsatisfiable_resources_fail_the_step_clearly(ray_address, instance):
    started = time.monotonic()
    result = execute_pipeline(
        pipelines.unsatisfiable,
        _ray(ray_address, resource_wait_timeout=1.0),
        instance=instance,
    )
    assert time.monotonic() - started < 30
    assert not result.success and result.result_for("seed").success
    failure = result.result_for("needs_special_hardware").failure_message
    assert "cannot run on this Ray cluster: no node offers CPU=1, gpu_x=1" in failure
    assert instance.get_run(result.run_id).status is RunStatus.FAILURE


def test_resources_are_built_once_per_worker_process_and_torn_down(ray_address, instance, tmp_path):
    ledger = tmp_path / "ledger.txt"
    config = {**_ray(ray_address), "resources": {"counter": {"config": {"ledger": str(ledger)}}}}
    result = execute_pipeline(pipelines.with_resources, config, instance=instance)
    assert result.success
    lines = ledger.read_text().split()
    inits = [pid for kind, pid in zip(lines[::2], lines[1::2], strict=True) if kind == "init"]
    teardowns = [
        pid for kind, pid in zip(lines[::2], lines[1::2], strict=True) if kind == "teardown"
    ]
    used_by = {str(result.output_for(f"use_{i}")) for i in range(6)}
    assert sorted(inits) == sorted(used_by)  # one per worker process that used it
    assert sorted(teardowns) == sorted(inits)
    assert len(events_of(result, EventType.RESOURCE_TEARDOWN)) == len(inits)
    assert events_of(result, EventType.STEP_RETRY) == []


def test_descendants_of_a_failed_step_are_skipped_without_running(ray_address, instance):
    result = execute_pipeline(pipelines.failing, _ray(ray_address), instance=instance)
    assert not result.success and result.result_for("seed").success
    skipped = [(e.step, e.payload["upstream"]) for e in events_of(result, EventType.STEP_SKIPPED)]
    assert sorted(skipped) == [("after", "explodes"), ("below", "explodes")]
    assert {e.step for e in events_of(result, EventType.STEP_START)} == {"explodes", "seed"}
    assert result.result_for("after").skipped and result.result_for("below").skipped


def test_outputs_not_produced_skip_their_readers_on_ray(ray_address, instance):
    config = {**_ray(ray_address), "solids": {"split_by": {"config": "cold"}}}
    result = execute_pipeline(pipelines.conditional, config, instance=instance)
    assert result.success
    assert result.output_for("after_cold") == 8
    assert result.output_for("add_up") == 7  # the fan-in reads the output that was produced
    skipped = {e.step: e.message for e in events_of(result, EventType.STEP_SKIPPED)}
    assert skipped == {
        "after_hot": "skipped because output 'hot' of step 'split_by' was not produced",
        "after_after": "skipped because upstream step 'after_hot' was skipped",
    }
    again = execute_pipeline(pipelines.conditional, config, instance=instance, memoize=True)
    assert again.success and events_of(again, EventType.STEP_START) == []
    assert {e.step for e in events_of(again, EventType.STEP_SKIPPED)} == {
        "after_hot",
        "after_after",
    }


def test_a_failing_resource_ends_the_run_on_ray(ray_address, instance):
    result = execute_pipeline(pipelines.broken_resource, _ray(ray_address), instance=instance)
    message = "resource 'warehouse' failed to initialise: ConnectionError: warehouse is down"
    assert not result.success
    assert {e.step for e in events_of(result, EventType.STEP_START)} == {"seed"}
    assert result.events[-1].type is EventType.RUN_FAILURE
    assert result.events[-1].message == message
    [init] = events_of(result, EventType.RESOURCE_INIT)
    assert init.payload["resource"] == "warehouse" and init.payload["success"] is False
    assert result.result_for("query_warehouse").skipped
    assert result.result_for("plus_one").skipped


def test_a_limit_on_concurrent_steps_is_kept_and_the_run_completes(ray_address, instance):
    result = execute_pipeline(
        pipelines.spread, _ray(ray_address, max_concurrent_steps=2), instance=instance
    )
    assert result.success and result.output_for("gather") == 2


def test_consecutive_runs_build_and_tear_down_their_own_resources(ray_address, instance, tmp_path):
    for run in range(2):  # the second run reuses the first run's step functions and actor
        ledger = tmp_path / f"ledger-{run}.txt"
        config = {
            **_ray(ray_address),
            "resources": {"counter": {"config": {"ledger": str(ledger)}}},
        }
        result = execute_pipeline(pipelines.with_resources, config, instance=instance)
        assert result.success
        kinds = ledger.read_text().split()[::2]
        assert kinds.count("init") == kinds.count("teardown") >= 1
        assert len(events_of(result, EventType.RESOURCE_TEARDOWN)) == kinds.count("init")
        assert {e.run_id for e in instance.events(result.run_id)} == {result.run_id}


def test_a_long_step_streams_its_logs_while_it_runs(ray_address, instance):
    config = {**_ray(ray_address), "solids": {"slow": {"config": {"seconds": 3.0}}}}
    seen_while_running: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = instance.runs()
            if runs:
                events = instance.events(runs[0].run_id)
                if any(e.type is EventType.STEP_SUCCESS and e.step == "slow" for e in events):
                    return
                seen_while_running[:] = [e.message for e in events if e.type is EventType.LOG]
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = execute_pipeline(pipelines.sleepy, config, instance=instance)
    watcher.join()
    assert result.success
    assert seen_while_running == ["started sleeping"]


def _cli_env(home) -> dict[str, str]:
    return {**os.environ, "SOLIDFLOW_HOME": str(home), "RAY_AUTH_MODE": "disabled"}


SOLIDFLOW = str(Path(sys.executable).with_name("solidflow"))
PIPELINES = str(Path(pipelines.__file__))


def test_cli_runs_on_the_cluster_given_by_address(ray_address, tmp_path):
    home = tmp_path / "cli-home"
    done = subprocess.run(
        [SOLIDFLOW, "run", f"{PIPELINES}:spread", "--address", ray_address],
        env=_cli_env(home),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    instance = Instance(home)
    [run] = instance.runs()
    starts = [e for e in instance.events(run.run_id) if e.type is EventType.STEP_START]
    assert len({e.payload["node_id"] for e in starts}) >= 2


def _start_slow_cli_run(ray_address, tmp_path, home) -> tuple[subprocess.Popen, Instance, str]:
    """`solidflow run` of seeded_sleep on the cluster, once its 600 s step sleeps."""
    (tmp_path / "slow.yaml").write_text("solids:\n  slow_after:\n    config:\n      seconds: 600\n")
    runner = subprocess.Popen(
        [
            SOLIDFLOW,
            "run",
            f"{PIPELINES}:seeded_sleep",
            "--address",
            ray_address,
            "-c",
            "slow.yaml",
        ],
        env=_cli_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    instance = Instance(home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the step runs (its log streams live)
        runs = instance.runs()
        if runs and any(e.message == "started sleeping" for e in instance.events(runs[0].run_id)):
            return runner, instance, runs[0].run_id
        time.sleep(0.1)
    runner.kill()
    raise TimeoutError(f"the slow step never started: {runner.communicate()}")


def _assert_canceled_cleanly(instance: Instance, run_id: str, reason: str) -> None:
    [run] = instance.runs()
    assert run.status is RunStatus.CANCELED
    events = instance.events(run_id)
    end = events[-1]
    assert end.type is EventType.RUN_CANCELED and end.payload["reason"] == reason
    assert end.payload["completed_steps"] == ["seed"]
    assert end.payload["interrupted_steps"] == ["slow_after"]
    assert end.payload["not_started_steps"] == ["plus_one"]
    assert not [e for e in events if e.type is EventType.STEP_SUCCESS and e.step == "slow_after"]
    [failure] = [e for e in events if e.type is EventType.STEP_FAILURE]
    assert failure.step == "slow_after" and failure.payload["kind"] in ("interrupted", "canceled")
    [kept] = IntermediateStore(instance.config.storage.root).list()
    assert kept.step == "seed"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_cancel_outstanding_tasks(ray_address, tmp_path, signum):
    runner, instance, run_id = _start_slow_cli_run(ray_address, tmp_path, tmp_path / "home")
    started = time.monotonic()
    runner.send_signal(signum)
    _, err = runner.communicate(timeout=300)
    assert runner.returncode == 130, err
    assert "Traceback" not in err
    assert time.monotonic() - started < 300  # the 600 s step did not run to its end
    _assert_canceled_cleanly(instance, run_id, f"{signal.Signals(signum).name} received")


def test_cancel_from_another_process_cancels_the_ray_tasks(ray_address, tmp_path):
    home = tmp_path / "home"
    runner, instance, run_id = _start_slow_cli_run(ray_address, tmp_path, home)
    started = time.monotonic()
    canceled = subprocess.run(
        [SOLIDFLOW, "cancel", run_id],
        env=_cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert canceled.returncode == 0 and canceled.stdout.strip() == f"run {run_id}: CANCELING"
    _, err = runner.communicate(timeout=300)
    assert runner.returncode == 130, err
    assert time.monotonic() - started < 300  # the 600 s step did not run to its end
    _assert_canceled_cleanly(instance, run_id, "cancel requested")


def test_a_run_without_memoization_replaces_the_stored_outputs(ray_address, instance, tmp_path):
    check_that_an_outside_change_is_served(_ray(ray_address), instance, tmp_path / "src.txt")
