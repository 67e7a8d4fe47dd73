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
            raise RuntimeError(
                f"start_ray_cluster.sh exited with {started.returncode}: "
                f"{started.stderr}{started.stdout}"
            )
    directory = Path(root) / str(port)
    try:
        yield f"127.0.0.1:{port}", directory, env
    finally:
        subprocess.run([str(SCRIPTS / "stop_ray_cluster.sh")], env=env, capture_output=True)
        for pid in marked_processes(f"SOLIDFLOW_RAY_CLUSTER_DIR={directory}"):
            os.kill(pid, signal.SIGKILL)  # what the head's death left behind
        shutil.rmtree(root, ignore_errors=True)


def _start_run(pipeline: str, config: str, doomed_cluster, tmp_path: Path):
    """`solidflow run` of a pipeline of ray_pipelines on the doomed cluster, with the run
    config `config` (YAML); the process and the instance it records the run in."""
    address, _, env = doomed_cluster
    home = tmp_path / "home"
    (tmp_path / "run.yaml").write_text(config)
    target = f"{ray_pipelines.__file__}:{pipeline}"
    runner = subprocess.Popen(
        [SOLIDFLOW, "run", target, "--address", address, "-c", "run.yaml"],
        env={**env, "SOLIDFLOW_HOME": str(home)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return runner, Instance(home)


def _logged(instance: Instance, message: str, timeout: float = 120) -> list:
    """The run's events once a step logged `message` (logs stream live while steps run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.runs()
        events = instance.events(runs[0].run_id) if runs else []
        if any(e.message == message for e in events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"no step logged {message!r} within {timeout} s")


def _kill_node(directory: Path, node: str) -> None:
    """SIGKILL every process of a node of the cluster (its `ray start` session)."""
    session = int((directory / "pids" / f"{node}.pid").read_text())
    for pid in marked_processes("none=none", {session}):
        os.kill(pid, signal.SIGKILL)


def test_killing_the_head_ends_the_run_within_seconds(doomed_cluster, tmp_path):
    slow = "solids:\n  slow:\n    config:\n      seconds: 120\n"
    runner, instance = _start_run("sleepy", slow, doomed_cluster, tmp_path)
    _logged(instance, "started sleeping")
    killed = time.monotonic()
    _kill_node(doomed_cluster[1], "head")
    out, err = runner.communicate(timeout=60)
    ended = time.monotonic() - killed
    [run] = instance.runs()
    assert run.status is RunStatus.FAILURE, out + err
    end = instance.events(run.run_id)[-1]
    assert end.type is EventType.RUN_FAILURE and "lost the Ray cluster" in end.message
    assert runner.returncode == 1 and "Traceback" not in err
    assert ended < 20, f"the run took {ended:.0f} s to end"


def test_steps_of_a_killed_worker_node_run_again_elsewhere(doomed_cluster, tmp_path):
    naps = "".join(f"  nap_{i}:\n    config:\n      seconds: 8\n" for i in range(4))
    runner, instance = _start_run("naps", f"solids:\n{naps}", doomed_cluster, tmp_path)
    events = _logged(instance, "started sleeping on node_b")
    [doomed_step] = [e.step for e in events if e.message == "started sleeping on node_b"]
    _kill_node(doomed_cluster[1], "node_b")
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
