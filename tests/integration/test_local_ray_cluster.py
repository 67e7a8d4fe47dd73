"""The local multi-node Ray cluster of cluster_configs/local: it comes up with three nodes,
custom resources pin tasks to the worker nodes, and the stop script ends all of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..ports import RAY_PORTS, free_port_bases
from .clusters import SCRIPTS, accepts_connections, alive, marked_processes

pytestmark = [pytest.mark.ray, pytest.mark.slow]

START = SCRIPTS / "start_ray_cluster.sh"
STOP = SCRIPTS / "stop_ray_cluster.sh"
NODES = ("head", "node_a", "node_b")
OBJECT_STORE_MB = 256

SPAN = 250
"""A cluster on port P uses the ports P .. P+249 (see start_ray_cluster.sh)."""


@dataclass
class Cluster:
    address: str
    port: int
    directory: Path  # $SOLIDFLOW_RAY_TMP/<port>
    env: dict[str, str]

    def run(self, script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script)], env=self.env, capture_output=True, text=True, timeout=150
        )

    def pids(self) -> dict[str, int]:
        return {
            node: int((self.directory / "pids" / f"{node}.pid").read_text())
            for node in NODES
            if (self.directory / "pids" / f"{node}.pid").exists()
        }

    def processes(self, sessions: set[int]) -> list[int]:
        """The processes started for this cluster: those with its marker in their environment,
        and those in the given sessions (each node runs in a session of its own)."""
        return marked_processes(f"SOLIDFLOW_RAY_CLUSTER_DIR={self.directory}", sessions)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Ray puts unix sockets below its temp dir and a socket path must stay under 108 bytes;
    # tmp_path_factory's directories are too deep for that, so the cluster gets a short one.
    root = Path(tempfile.mkdtemp(prefix="sfray-", dir="/tmp"))
    env = {
        **os.environ,
        "SOLIDFLOW_RAY_TMP": str(root),
        "SOLIDFLOW_RAY_OBJECT_STORE_MB": str(OBJECT_STORE_MB),
        "RAY_BIN": str(Path(sys.executable).with_name("ray")),
    }
    started = None
    failures = []
    try:
        for port in free_port_bases(RAY_PORTS, SPAN):
            started = Cluster(
                f"127.0.0.1:{port}",
                port,
                root / str(port),
                {**env, "SOLIDFLOW_RAY_PORT": str(port)},
            )
            result = started.run(START)
            if result.returncode == 0:
                assert result.stdout.strip().splitlines()[-1] == started.address
                break
            failures.append(result.stderr)
            started = None
            if "ports in use" not in result.stderr:
                break
        if started is None:
            pytest.fail("the cluster did not start:\n" + "\n".join(failures))
        yield started
    finally:
        if started is not None:
            started.run(STOP)
            logs = started.directory / "logs"
            if logs.is_dir():
                shutil.copytree(
                    logs, tmp_path_factory.mktemp("ray-cluster-logs"), dirs_exist_ok=True
                )
        shutil.rmtree(root, ignore_errors=True)


# The driver runs in a child process: this one may already be connected to another cluster (a
# process has at most one Ray connection), and its Ray state must not leak into other tests.
PROBE = """
import json
import sys

import ray

ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)


@ray.remote(num_cpus=1)
def node_id():
    return ray.get_runtime_context().get_node_id()


on_a = ray.get(node_id.options(resources={"node_a": 1}).remote(), timeout=60)
on_b = ray.get(node_id.options(resources={"node_b": 1}).remote(), timeout=60)
nodes = [
    {"id": n["NodeID"], "resources": n["Resources"], "store": n["ObjectStoreSocketName"]}
    for n in ray.nodes()
    if n["Alive"]
]
driver = ray.get_runtime_context().get_node_id()
print(json.dumps({"nodes": nodes, "driver": driver, "on_a": on_a, "on_b": on_b}))
ray.shutdown()
"""


@pytest.fixture(scope="module")
def probe(cluster: Cluster) -> dict:
    """What a driver connected with `ray.init(address=...)` sees, and where pinned tasks ran."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, cluster.address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def role(node: dict) -> str:
    return next((r for r in ("node_a", "node_b") if r in node["resources"]), "head")


def test_the_cluster_has_a_head_and_two_worker_nodes(probe: dict) -> None:
    nodes = {role(n): n for n in probe["nodes"]}
    assert len(probe["nodes"]) == 3
    assert set(nodes) == {"head", "node_a", "node_b"}
    assert nodes["node_a"]["resources"]["node_a"] == 1000
    assert nodes["node_b"]["resources"]["node_b"] == 1000
    assert "node_b" not in nodes["node_a"]["resources"]
    for node in probe["nodes"]:
        assert node["resources"]["CPU"] == 1
        assert node["resources"]["object_store_memory"] == OBJECT_STORE_MB * 1024 * 1024
    assert len({n["store"] for n in probe["nodes"]}) == 3  # an object store per node


def test_custom_resources_pin_tasks_to_worker_nodes(probe: dict) -> None:
    ids = {role(n): n["id"] for n in probe["nodes"]}
    assert probe["on_a"] != probe["on_b"]
    assert (probe["on_a"], probe["on_b"]) == (ids["node_a"], ids["node_b"])
    assert probe["driver"] == ids["head"]  # a driver on this host attaches to the head node


def test_the_start_script_is_idempotent(cluster: Cluster) -> None:
    before = cluster.pids()
    result = cluster.run(START)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == cluster.address
    assert cluster.pids() == before


def test_the_stop_script_ends_every_node(cluster: Cluster) -> None:
    pids = cluster.pids()
    assert set(pids) == set(NODES)
    assert all(alive(pid) for pid in pids.values())
    sessions = set(pids.values())  # each `ray start --block` leads the session of its node
    assert len(cluster.processes(sessions)) > 3 * len(NODES)  # raylets, the GCS, agents, ...
    assert accepts_connections(cluster.port)

    result = cluster.run(STOP)
    assert result.returncode == 0, result.stderr
    assert not any(alive(pid) for pid in pids.values())
    assert cluster.processes(sessions) == []
    assert not accepts_connections(cluster.port)
    assert cluster.pids() == {}

    again = cluster.run(STOP)  # nothing left to stop
    assert again.returncode == 0, again.stderr
