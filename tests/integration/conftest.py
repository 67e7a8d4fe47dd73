"""Real local clusters on 127.0.0.1, one of each per test session: a multi-node Ray cluster
(head + node_a + node_b) and a Spark standalone cluster with a Spark Connect server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from solidflow import Instance

from ..ports import RAY_PORTS, SPARK_PORTS, free_port_bases
from .clusters import SCRIPTS

RAY_PORT_SPAN = 250
"""A Ray cluster on port P uses P .. P+249 (see start_ray_cluster.sh)."""
SPARK_PORT_SPAN = 40
"""A Spark cluster on port P uses P .. P+7 (see start_spark_cluster.sh); tests start a second,
short-lived cluster on P+10 and P+30."""


def _start_on_free_ports(
    script: Path, ports: range, span: int, env_for: Callable[[int], dict[str, str]]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run a cluster start script on free ports, trying another base when it loses a race for
    them; the last attempt's result and environment. What a failed start left running is
    stopped."""
    stop = script.with_name(script.name.replace("start_", "stop_"))
    attempts = []
    for port in free_port_bases(ports, span):
        env = env_for(port)
        started = subprocess.run(
            [str(script)], env=env, capture_output=True, text=True, timeout=240
        )
        if started.returncode == 0:
            return started, env
        if "ports in use" not in started.stderr:  # it started something
            subprocess.run([str(stop)], env=env, capture_output=True, timeout=120)
        if "in use" not in started.stderr:  # not a lost race for a port
            return started, env
        attempts.append(started.stderr)
    raise RuntimeError(f"{script.name} found no free ports:\n" + "\n".join(attempts))


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a local cluster whose worker nodes offer `node_a` and `node_b`; this
    test process is connected to it as the driver."""
    import ray

    short_tmp = tempfile.mkdtemp(prefix="sfr", dir="/tmp")
    started, env = _start_on_free_ports(
        SCRIPTS / "start_ray_cluster.sh",
        RAY_PORTS,
        RAY_PORT_SPAN,
        lambda port: {
            **os.environ,
            "RAY_AUTH_MODE": "disabled",  # a throwaway cluster on 127.0.0.1
            "SOLIDFLOW_RAY_PORT": str(port),
            "SOLIDFLOW_RAY_TMP": short_tmp,
            "SOLIDFLOW_RAY_OBJECT_STORE_MB": "512",
            "SOLIDFLOW_RAY_DASHBOARD": "1",  # the job server, for the ray_jobs launcher
        },
    )
    if started.returncode != 0:
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


@pytest.fixture(scope="session")
def ray_job_server(ray_address: str) -> str:
    """The job server (dashboard) of the `ray_address` cluster: http://127.0.0.1:<port + 2>."""
    return f"http://127.0.0.1:{int(ray_address.rsplit(':', 1)[1]) + 2}"


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
    def master_web_ui(self) -> str:
        """The master's web UI, whose /json/ is its status (see start_spark_cluster.sh)."""
        return f"http://127.0.0.1:{self.port + 1}"

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
    tmp_dir = Path(tempfile.mkdtemp(prefix="sfs", dir="/tmp"))
    started, env = _start_on_free_ports(
        SCRIPTS / "start_spark_cluster.sh",
        SPARK_PORTS,
        SPARK_PORT_SPAN,
        lambda port: _spark_env(port, tmp_dir),
    )
    if started.returncode != 0:
        if not any(tmp_dir.iterdir()):  # else it keeps the logs
            tmp_dir.rmdir()
        raise RuntimeError(f"the local Spark cluster did not start:\n{started.stderr}")
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


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    """An instance of the test's own, in an empty home."""
    return Instance(tmp_path / "home")
