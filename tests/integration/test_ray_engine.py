"""The Ray executor (pools of long-lived step-worker actors) against a real local multi-node
Ray cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solidflow import Instance, execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.store import IntermediateStore
from tests.integration import ray_pipelines as pipelines
from tests.integration.events import events_of
from tests.outside_source import check_that_an_outside_change_is_served

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.slow]

EXECUTOR = "ray"


def _ray(address: str, **settings) -> dict:
    return {"execution": {EXECUTOR: {"address": address, **settings}}}


def test_steps_pinned_to_nodes_run_there(ray_address, instance):
    result = execute_pipeline(pipelines.spread, _ray(ray_address), instance=instance)
    assert result.success, [e.message for e in events_of(result, EventType.STEP_FAILURE)]
    starts = {e.step: e.payload["node_id"] for e in events_of(result, EventType.STEP_START)}
    a_nodes = {starts[f"a{i}"] for i in range(3)}
    b_nodes = {starts[f"b{i}"] for i in range(3)}
    assert len(a_nodes) == 1 and len(b_nodes) == 1 and a_nodes != b_nodes
    assert {result.output_for(f"a{i}") for i in range(3)} == a_nodes
    assert result.output_for("gather") == 2


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
        assert len(worker) == 1


def test_solids_with_ray_options_get_a_pool_of_their_own(ray_address, instance):
    result = execute_pipeline(pipelines.shapes, _ray(ray_address), instance=instance)
    assert result.success
    plain = {result.output_for(f"plain_{i}") for i in range(4)}
    pinned = {result.output_for(f"pinned_{i}") for i in range(4)}
    assert len(pinned) == 1  # node_a takes one actor of that shape (one CPU)
    assert not plain & pinned
    again = execute_pipeline(pipelines.shapes, _ray(ray_address), instance=instance)
    assert {again.output_for(f"pinned_{i}") for i in range(4)} == pinned  # long-lived


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
    assert retry.payload["attempt"] == 2
    starts = [e for e in events_of(result, EventType.STEP_START) if e.step == "dies_once"]
    assert starts[-1].payload["pid"] != killed_pid and starts[-1].payload["attempt"] == 2
    kinds = [e.type for e in result.events if e.step == "dies_once"]
    assert kinds.index(EventType.STEP_RETRY) < len(kinds) - 1 - kinds[::-1].index(
        EventType.STEP_START
    )


def test_log_lines_of_a_worker_killed_right_after_logging_them_are_kept(
    ray_address, instance, tmp_path
):
    lines = 200
    config = {
        **_ray(ray_address),
        "solids": {
            "logs_then_dies": {"config": {"marker": str(tmp_path / "killed"), "lines": lines}}
        },
    }
    result = execute_pipeline(pipelines.chatter_dies, config, instance=instance)
    assert result.success, [e.message for e in result.events]
    killed_pid = int((tmp_path / "killed").read_text())
    stored = [e for e in instance.events(result.run_id) if e.step == "logs_then_dies"]
    logged = [e for e in stored if e.type is EventType.LOG]
    first = [e.message for e in logged if e.payload["pid"] == killed_pid]
    assert first == [f"attempt 1: line {line}" for line in range(lines)]
    assert [e.message for e in logged if e.payload["pid"] != killed_pid] == [
        f"attempt 2: line {line}" for line in range(lines)
    ]
    # In order: the dead attempt's lines, its STEP_RETRY, then the next attempt.
    kinds = [e.type for e in stored]
    retry = kinds.index(EventType.STEP_RETRY)
    assert kinds[:retry] == [EventType.STEP_START] + [EventType.LOG] * lines
    assert kinds[retry + 1] is EventType.STEP_START


def test_resources_are_built_once_per_worker_actor_and_run(ray_address, instance, tmp_path):
    for run in range(2):
        ledger = tmp_path / f"ledger-{run}.txt"
        config = {
            **_ray(ray_address),
            "resources": {"counter": {"config": {"ledger": str(ledger)}}},
        }
        result = execute_pipeline(pipelines.with_resources, config, instance=instance)
        assert result.success
        lines = ledger.read_text().split()
        inits = [pid for kind, pid in zip(lines[::2], lines[1::2], strict=True) if kind == "init"]
        torn = [pid for kind, pid in zip(lines[::2], lines[1::2], strict=True) if kind != "init"]
        used_by = {str(result.output_for(f"use_{i}")) for i in range(6)}
        assert sorted(inits) == sorted(used_by)  # one per actor that used it, in this run
        assert sorted(torn) == sorted(inits)
        assert len(events_of(result, EventType.RESOURCE_INIT)) == len(inits)
        assert len(events_of(result, EventType.RESOURCE_TEARDOWN)) == len(inits)


def test_an_unpicklable_output_fails_the_step_that_made_it(ray_address, instance):
    result = execute_pipeline(pipelines.unpicklable, _ray(ray_address), instance=instance)
    assert not result.success
    failure = result.result_for("give_lock").failure_message
    assert "cannot be pickled" in failure and "Lock" in failure, failure
    assert result.result_for("use_lock").skipped


def test_an_input_that_its_types_loader_builds_is_built_on_the_worker(ray_address, instance):
    run_config = {**_ray(ray_address), "solids": {"total": {"inputs": {"numbers": {"stop": 5}}}}}
    result = execute_pipeline(pipelines.loaded, run_config, instance=instance)
    assert result.success, result.result_for("total").failure_message
    assert result.output_for("total") == 10


def test_a_large_table_moves_between_workers_and_descendants_of_failures_skip(
    ray_address, instance
):
    result = execute_pipeline(
        pipelines.big_data,
        {**_ray(ray_address), "solids": {"big_table": {"config": {"rows": 1_000_000}}}},
        instance=instance,
    )
    assert result.success and result.output_for("table_rows") == 1_000_000
    failing = execute_pipeline(pipelines.failing, _ray(ray_address), instance=instance)
    skipped = [(e.step, e.payload["upstream"]) for e in events_of(failing, EventType.STEP_SKIPPED)]
    assert sorted(skipped) == [("after", "explodes"), ("below", "explodes")]
    assert {e.step for e in events_of(failing, EventType.STEP_START)} == {"explodes", "seed"}


def test_memoized_run_reads_stored_outputs_on_workers(ray_address, instance):
    first = execute_pipeline(pipelines.big_data, _ray(ray_address), instance=instance)
    assert first.success
    again = execute_pipeline(pipelines.big_data, _ray(ray_address), instance=instance, memoize=True)
    assert events_of(again, EventType.STEP_SUCCESS) == []
    assert again.output_for("table_rows") == 1000
    child = reexecute_pipeline(
        first.run_id, solid_selection="table_rows", executor=EXECUTOR, instance=instance
    )
    assert [e.step for e in events_of(child, EventType.STEP_SUCCESS)] == ["table_rows"]
    assert child.output_for("table_rows") == 1000  # the worker read the parent's stored table


def _cli_env(home) -> dict[str, str]:
    return {**os.environ, "SOLIDFLOW_HOME": str(home), "RAY_AUTH_MODE": "disabled"}


SOLIDFLOW = str(Path(sys.executable).with_name("solidflow"))
PIPELINES = str(Path(pipelines.__file__))


def _wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_ctrl_c_stops_steps_in_flight(ray_address, tmp_path):
    home = tmp_path / "cancel-home"
    (tmp_path / "slow.yaml").write_text("solids:\n  slow:\n    config:\n      seconds: 60\n")
    command = [SOLIDFLOW, "run", f"{PIPELINES}:sleepy", "--address", ray_address]
    runner = subprocess.Popen(
        [*command, "-c", "slow.yaml", "--executor", EXECUTOR],
        env=_cli_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    instance = Instance(home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the step runs (its log streams live)
        runs = instance.runs()
        if runs and any(e.message == "started sleeping" for e in instance.events(runs[0].run_id)):
            break
        time.sleep(0.1)
    started = time.monotonic()
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert time.monotonic() - started < 30  # the 60 s step did not run to its end
    [run] = instance.runs()
    assert run.status is RunStatus.CANCELED
    events = instance.events(run.run_id)
    assert not [e for e in events if e.type is EventType.STEP_SUCCESS and e.step == "slow"]


def test_a_killed_driver_leaves_outputs_handed_on_uncommitted(ray_address, tmp_path):
    home = tmp_path / "killed-home"
    gate = tmp_path / "gate"
    (tmp_path / "gate.yaml").write_text(
        f"solids:\n  waits_for_gate:\n    config:\n      gate: {gate}\n"
    )
    command = [SOLIDFLOW, "run", f"{PIPELINES}:gated", "--address", ray_address, "-c", "gate.yaml"]
    driver = subprocess.Popen(
        [*command, "--executor", EXECUTOR],
        env=_cli_env(home),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(gate.with_suffix(".reached"))  # early and plus_one ended, their outputs handed on
    instance = Instance(home)
    deadline = time.monotonic() + 60
    while True:  # until the driver logged their ends
        [run] = instance.runs()
        ended = {e.step for e in instance.events(run.run_id) if e.type is EventType.STEP_SUCCESS}
        if ended == {"early", "plus_one"} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    driver.kill()
    driver.wait(timeout=60)
    events = instance.events(run.run_id)
    ended = {e.step for e in events if e.type is EventType.STEP_SUCCESS}
    keys = [e.payload["key"] for e in events if e.type is EventType.STEP_OUTPUT]
    assert ended == {"early", "plus_one"} and len(keys) == 2
    store = IntermediateStore(instance.config.storage.root)
    try:
        assert store.committed(keys) == set()
    finally:
        store.close()
    gate.write_text("open")
    again = subprocess.run(
        [*command, "--executor", EXECUTOR, "--memoize"],
        env=_cli_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    rerun = instance.runs()[0]
    rerun_events = instance.events(rerun.run_id)
    assert {e.step for e in rerun_events if e.type is EventType.STEP_SUCCESS} == {
        "early",
        "plus_one",
        "waits_for_gate",
    }  # nothing was committed, so nothing is reused
    assert not [e for e in rerun_events if e.type is EventType.STEP_MEMOIZED]
    third = execute_pipeline(
        pipelines.gated,
        {**_ray(ray_address), "solids": {"waits_for_gate": {"config": {"gate": str(gate)}}}},
        instance=instance,
        memoize=True,
    )
    assert {e.step for e in events_of(third, EventType.STEP_MEMOIZED)} == {
        "early",
        "plus_one",
        "waits_for_gate",
    }  # what the second run committed is reused


def test_a_shared_resource_is_built_once_per_worker_for_later_runs(ray_address, instance, tmp_path):
    ledger = tmp_path / "ledger.txt"
    config = {**_ray(ray_address), "resources": {"counter": {"config": {"ledger": str(ledger)}}}}
    users: set[str] = set()
    for _ in range(2):
        result = execute_pipeline(pipelines.with_shared_resource, config, instance=instance)
        assert result.success
        users |= {str(result.output_for(f"use_{i}")) for i in range(6)}
        assert events_of(result, EventType.RESOURCE_TEARDOWN) == []
    lines = ledger.read_text().split()
    inits = [pid for kind, pid in zip(lines[::2], lines[1::2], strict=True) if kind == "init"]
    assert sorted(inits) == sorted(users)  # once per worker over both runs, never torn down


def test_a_run_without_memoization_replaces_the_stored_outputs(ray_address, instance, tmp_path):
    check_that_an_outside_change_is_served(_ray(ray_address), instance, tmp_path / "src.txt")
