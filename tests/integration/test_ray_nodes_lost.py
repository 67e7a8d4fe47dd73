"""Runs on a cluster of their own whose nodes the tests kill: a killed worker node's steps run
again elsewhere; a killed head ends the run within seconds, failed, saying why."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from solidflow import Instance
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus

from ..ports import RAY_PORTS, free_port_bases
from . import ray_pipelines
from .clusters import SCRIPTS, marked_processes

SOLIDFLOW = str(Path(sys.executable).with_name("solidflow"))

pytestmark = [pytest.mark.xdist_group("ray_nodes_lost"), pytest.mark.ray, pytest.mark.slow]
"""One xdist worker runs them in turn: each starts a cluster of its own."""


@pytest.fixture
def doomed_cluster():
    """A cluster of its own (the test kills one of its nodes): its address, directory and
    environment."""
    root = tempfile.mkdtemp(prefix="sfhl", dir="/tmp")
    for port in free_port_bases(RAY_PORTS, 250):
        env = {
            **os.environ,
            "RAY_AUTH_MODE": "disabled",
            "SOLIDFLOW_RAY_PORT": str(port),
            "SOLIDFLOW_RAY_TMP": root,
            "SOLIDFLOW_RAY_OBJECT_STORE_MB": "128",
        }
        started = subprocess.run(
            [str(SCRIPTS / "start_ray_cluster.sh")], env=env, capture_output=True, text=True
        )
        if started.returncode == 0:
            break
        if "in use" not in started.stderr:
            raise RuntimeError(started.stderr)
    directory = Path(root) / str(port)
    try:
        yield f"127.0.0.1:{port}", directory, env
    finally:
        subprocess.run([str(SCRIPTS / "stop_ray_cluster.sh")], env=env, capture_output=True)
        for pid in marked_processes(f"SOLIDFLOW_RAY_CLUSTER_DIR={directory}"):
            os.kill(pid, signal.SIGKILL)  # what the head's death left behind
        shutil.rmtree(root, ignore_errors=True)


def test_killing_the_head_ends_the_run_within_seconds(doomed_cluster, tmp_path):
    address, directory, env = doomed_cluster
    home = tmp_path / "home"
    (tmp_path / "slow.yaml").write_text("solids:\n  slow:\n    config:\n      seconds: 120\n")
    runner = subprocess.Popen(
        [
            SOLIDFLOW,
            "run",
            f"{ray_pipelines.__file__}:sleepy",
            "--address",
            address,
            "-c",
            "slow.yaml",
        ],
        env={**env, "SOLIDFLOW_HOME": str(home)},
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
    head = int((directory / "pids" / "head.pid").read_text())
    killed = time.monotonic()
    for pid in marked_processes("none=none", {head}):  # the head node's session
        os.kill(pid, signal.SIGKILL)
    out, err = runner.communicate(timeout=60)
    ended = time.monotonic() - killed
    [run] = instance.runs()
    assert run.status is RunStatus.FAILURE, out + err
    end = instance.events(run.run_id)[-1]
    assert end.type is EventType.RUN_FAILURE and "lost the Ray cluster" in end.message
    assert runner.returncode == 1 and "Traceback" not in err
    assert ended < 20, f"the run took {ended:.0f} s to end"


def _events_until(instance: Instance, found, timeout: float = 120):
    """The first run's events once `found(events)` holds (the run's logs stream live)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.runs()
        events = instance.events(runs[0].run_id) if runs else []
        if found(events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout} s")


def test_steps_of_a_killed_worker_node_run_again_elsewhere(doomed_cluster, tmp_path):
    address, directory, env = doomed_cluster
    home = tmp_path / "home"
    naps = "".join(f"  nap_{i}:\n    config:\n      seconds: 8\n" for i in range(4))
    (tmp_path / "naps.yaml").write_text(f"solids:\n{naps}")
    runner = subprocess.Popen(
        [
            SOLIDFLOW,
            "run",
            f"{ray_pipelines.__file__}:naps",
            "--address",
            address,
            "-c",
            "naps.yaml",
        ],
        env={**env, "SOLIDFLOW_HOME": str(home)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    instance = Instance(home)
    events = _events_until(
        instance, lambda events: any(e.message == "started sleeping on node_b" for e in events)
    )
    [doomed_step] = [e.step for e in events if e.message == "started sleeping on node_b"]
    node_b = int((directory / "pids" / "node_b.pid").read_text())
    for pid in marked_processes("none=none", {node_b}):  # node_b's raylet and its workers
        os.kill(pid, signal.SIGKILL)
    out, err = runner.communicate(timeout=180)
    assert runner.returncode == 0, out + err
    [run] = instance.runs()
    events = instance.events(run.run_id)
    # Every step in flight on node_b's worker (the sleeping one, and any sent behind it) runs
    # again; until Ray sees node_b gone, a replacement worker may land there and die too, so a
    # step may be retried more than once, its attempts numbered in turn.
    retries = [e for e in events if e.type is EventType.STEP_RETRY]
    assert retries and all(e.payload["reason"] == "worker_died" for e in retries)
    for step in {e.step for e in retries}:
        attempts = [e.payload["attempt"] for e in retries if e.step == step]
        assert attempts == list(range(2, len(attempts) + 2)), (step, attempts)
    doomed_retries = [e for e in retries if e.step == doomed_step]
    starts = [e for e in events if e.type is EventType.STEP_START and e.step == doomed_step]
    # An attempt sent to a replacement worker that died before it started has no STEP_START.
    started = [e.payload["attempt"] for e in starts]
    assert started == sorted(set(started)), started
    assert started[0] == 1 and started[-1] == len(doomed_retries) + 1, started
    assert starts[0].payload["node_id"] != starts[-1].payload["node_id"]
    assert events.index(doomed_retries[0]) < events.index(starts[1])
    successes = {e.step for e in events if e.type is EventType.STEP_SUCCESS}
    assert successes == {f"nap_{i}" for i in range(4)}
