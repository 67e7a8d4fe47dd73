"""Real local clusters on 127.0.0.1, one of each per test session: a multi-node Ray cluster
(head + node_a + node_b) and a Spark standalone cluster with a Spark Connect server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .clusters import SCRIPTS


def _xdist_index() -> int:
    """0 for gw0 (and without xdist), 1 for gw1, ..."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _cluster_env() -> dict[str, str]:
    index = _xdist_index()
    short_tmp = tempfile.mkdtemp(prefix="sfr", dir="/tmp")
    return {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",  # a throwaway cluster on 127.0.0.1
        "SOLIDFLOW_RAY_PORT": str(7100 + 300 * index),
        "SOLIDFLOW_RAY_TMP": short_tmp,
        "SOLIDFLOW_RAY_OBJECT_STORE_MB": "512",
    }


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a local cluster whose worker nodes offer `node_a` and `node_b`; this
    test process is connected to it as the driver."""
    import ray

    env = _cluster_env()
    started = subprocess.run(
        [str(SCRIPTS / "start_ray_cluster.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if started.returncode != 0:
        subprocess.run([str(SCRIPTS / "stop_ray_cluster.sh")], env=env, timeout=120)
        raise RuntimeError(f"the local Ray cluster did not start:\n{started.stderr}")
    address = started.stdout.strip().splitlines()[-1]
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(address=address, namespace="solidflow", configure_logging=False)
    try:
        yield address
    finally:
        ray.shutdown()
        subprocess.run([str(SCRIPTS / "stop_ray_cluster.sh")], env=env, timeout=120)
        shutil.rmtree(env["SOLIDFLOW_RAY_TMP"], ignore_errors=True)  # the script keeps its logs


@dataclass(frozen=True)
class SparkCluster:
    """A local Spark standalone cluster (master + one worker) with a Spark Connect server."""

    master_url: str  # spark://127.0.0.1:<port>
    connect_url: str  # sc://127.0.0.1:<port + 4>
    tmp_dir: Path  # its SOLIDFLOW_SPARK_TMP; its files are in tmp_dir / <port>

    @property
    def port(self) -> int:
        return int(self.master_url.rsplit(":", 1)[1])

    @property
    def directory(self) -> Path:
        """pids/, logs/, work/ (executors' output), ... (see start_spark_cluster.sh)."""
        return self.tmp_dir / str(self.port)

    @property
    def env(self) -> dict[str, str]:
        """The environment the scripts of cluster_configs/local need for this cluster."""
        return _spark_env(self.port, self.tmp_dir)


def _spark_env(port: int, tmp_dir: Path) -> dict[str, str]:
    import pyspark

    return {
        **os.environ,
        "SOLIDFLOW_SPARK_PORT": str(port),
        "SOLIDFLOW_SPARK_TMP": str(tmp_dir),
        # The server side must be the Spark of this process's pyspark (a Spark Connect client
        # needs a server of its own version).
        "SPARK_HOME": os.path.dirname(pyspark.__file__),
        "SOLIDFLOW_SPARK_PYTHON": sys.executable,
    }


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[SparkCluster]:
    """A Spark standalone cluster on 127.0.0.1: a master, a worker with 2 cores and 1g, and a
    Spark Connect server whose application holds 1 core and 512m of them. A SparkSession with
    `master(cluster.master_url)` gets the other core, if it asks for executors of at most 512m
    (spark.executor.memory; the default, 1g, does not fit). Tests using it are marked
    `@pytest.mark.xdist_group("spark")` so that one xdist worker runs them all; tests that end
    up on other workers get a cluster of their own, on ports of their own."""
    # The cluster uses the ports P .. P+7 (start_spark_cluster.sh). P = 7350 + 300 * i lies in
    # the gap the Ray cluster of xdist worker i leaves (7100 + 300 * i .. +249, see
    # _cluster_env), so neither collides with the other's clusters on any xdist worker. P+20
    # is the place of a second test session on this machine; P+10 and P+30 stay free for a
    # short-lived second cluster of a test.
    tmp_dir = Path(tempfile.mkdtemp(prefix="sfs", dir="/tmp"))
    base = 7350 + 300 * _xdist_index()
    failures = []
    for port in (base, base + 20):
        env = _spark_env(port, tmp_dir)
        started = subprocess.run(
            [str(SCRIPTS / "start_spark_cluster.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if started.returncode == 0:
            break
        failures.append(started.stderr)
        if "ports in use" not in started.stderr:
            subprocess.run([str(SCRIPTS / "stop_spark_cluster.sh")], env=env, timeout=120)
            break
    else:
        started = None
    if started is None or started.returncode != 0:
        if not any(tmp_dir.iterdir()):  # else it keeps the logs
            tmp_dir.rmdir()
        raise RuntimeError("the local Spark cluster did not start:\n" + "\n".join(failures))
    master_url, connect_url = started.stdout.strip().splitlines()[-2:]
    try:
        yield SparkCluster(master_url, connect_url, tmp_dir)
    finally:
        stopped = subprocess.run(
            [str(SCRIPTS / "stop_spark_cluster.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if stopped.returncode == 0:
            shutil.rmtree(tmp_dir, ignore_errors=True)
