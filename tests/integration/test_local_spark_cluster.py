"""The local Spark cluster of cluster_configs/local: jobs of a classic SparkSession run on its
standalone worker, a Spark Connect session computes on it, the start script is idempotent and
the stop script ends only its own cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .clusters import SCRIPTS, accepts_connections, alive, marked_processes

if TYPE_CHECKING:
    from .conftest import SparkCluster

START = SCRIPTS / "start_spark_cluster.sh"
STOP = SCRIPTS / "stop_spark_cluster.sh"

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.spark, pytest.mark.slow]


def run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=240)


def pids(directory: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text()) for f in sorted((directory / "pids").glob("*.pid"))}


def cluster_processes(directory: Path) -> list[int]:
    """The processes with the cluster's marker in their environment."""
    return marked_processes(f"SOLIDFLOW_SPARK_CLUSTER_DIR={directory}")


def master_json(port: int) -> dict:
    """What the master's web UI (on port P+1) says about the cluster."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port + 1}/json/", timeout=10) as response:
        return json.load(response)


# A classic session runs in a child process: a process has at most one SparkContext (a
# local-mode one of another test in this worker would be handed back by getOrCreate()), and its
# JVM outlives spark.stop() until the Python process ends.
CLASSIC = """
import json
import os
import sys
import urllib.request

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

master_url, ui_port = sys.argv[1], int(sys.argv[2])
spark = (
    SparkSession.builder.master(master_url)
    .appName("solidflow-classic-probe")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.driver.memory", "512m")
    .config("spark.ui.enabled", "false")
    # The worker has 2 cores and 1g; the Connect server's application holds 1 core and 512m.
    .config("spark.cores.max", "1")
    .config("spark.executor.memory", "512m")
    .config("spark.executor.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    .getOrCreate()
)
try:
    df = spark.range(1, 100_001).withColumn("k", F.col("id") % 7)
    sums = {r["k"]: r["s"] for r in df.groupBy("k").agg(F.sum("id").alias("s")).collect()}
    # Python tasks: they run in Python workers the executor starts, which inherit the marker
    # the worker's environment carries. No Python is named (PYSPARK_PYTHON is unset): the
    # executor runs `python3` from the PATH the cluster gives it.
    where = (
        spark.sparkContext.parallelize(range(8), 4)
        .map(lambda _: (os.environ.get("SOLIDFLOW_SPARK_CLUSTER_DIR"), os.getpid(), sys.executable))
        .collect()
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{ui_port}/json/", timeout=10) as response:
        apps = [a["id"] for a in json.load(response)["activeapps"]]
    result = {
        "sums": {str(k): v for k, v in sums.items()},
        "markers": sorted({m or "" for m, _, _ in where}),
        "task_pids": sorted({p for _, p, _ in where}),
        "task_pythons": sorted({e for _, _, e in where}),
        "driver_pid": os.getpid(),
        # The driver's block manager and the executors'.
        "block_managers": spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size(),
        "app_id": spark.sparkContext.applicationId,
        "active_apps": apps,
    }
finally:
    spark.stop()
print(json.dumps(result))
"""


def test_a_classic_session_runs_its_jobs_on_the_standalone_worker(
    spark_cluster: SparkCluster,
) -> None:
    unset = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_PYTHON")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    probe = subprocess.run(
        [sys.executable, "-c", CLASSIC, spark_cluster.master_url, str(spark_cluster.port + 1)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert probe.returncode == 0, probe.stderr[-5000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])

    expected = {str(k): sum(i for i in range(1, 100_001) if i % 7 == k) for k in range(7)}
    assert result["sums"] == expected
    assert result["markers"] == [str(spark_cluster.directory)]  # on this cluster's worker
    assert result["driver_pid"] not in result["task_pids"]
    # The Python of this virtualenv (the cluster puts its bin/ first on the executors' PATH).
    assert [Path(p).parent for p in result["task_pythons"]] == [Path(sys.executable).parent]
    assert result["block_managers"] >= 2
    assert result["app_id"] in result["active_apps"]
    state = master_json(spark_cluster.port)
    assert result["app_id"] in [a["id"] for a in state["completedapps"]]


@contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """pyspark sets SPARK_CONNECT_MODE_ENABLED=1 for the rest of the process once a Connect
    session exists, which would turn later classic sessions of this process into Connect ones."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_a_spark_connect_session_computes_on_the_cluster(spark_cluster: SparkCluster) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    with restored_environment("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE"):
        spark = SparkSession.builder.remote(spark_cluster.connect_url).getOrCreate()
        try:
            assert spark.conf.get("spark.master") == spark_cluster.master_url
            df = spark.range(1, 10_001).withColumn("k", F.col("id") % 3)
            rows = df.groupBy("k").agg(F.sum("id").alias("s"), F.count("*").alias("n")).collect()
            got = {r["k"]: (r["s"], r["n"]) for r in rows}
        finally:
            spark.stop()
    ids = range(1, 10_001)
    expected = {k: [i for i in ids if i % 3 == k] for k in range(3)}
    assert got == {k: (sum(values), len(values)) for k, values in expected.items()}


def test_the_start_script_is_idempotent(spark_cluster: SparkCluster) -> None:
    before = pids(spark_cluster.directory)
    assert set(before) == {"master", "worker", "connect"}
    result = run(START, spark_cluster.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-2:] == [
        spark_cluster.master_url,
        spark_cluster.connect_url,
    ]
    assert "already running" in result.stderr
    assert pids(spark_cluster.directory) == before
    assert all(alive(pid) for pid in before.values())


def test_the_stop_script_ends_only_its_own_cluster(spark_cluster: SparkCluster) -> None:
    """A second cluster, without Spark Connect, on the ports after the fixture's."""
    port = spark_cluster.port + 10
    root = Path(tempfile.mkdtemp(prefix="sfs", dir="/tmp"))
    env = {**spark_cluster.env, "SOLIDFLOW_SPARK_PORT": str(port), "SOLIDFLOW_SPARK_TMP": str(root)}
    env["SOLIDFLOW_SPARK_CONNECT"] = "0"
    directory = root / str(port)
    try:
        started = run(START, env)
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip().splitlines()[-1] == f"spark://127.0.0.1:{port}"
        assert "sc://" not in started.stdout
        started_pids = pids(directory)
        assert set(started_pids) == {"master", "worker"}
        assert set(cluster_processes(directory)) == set(started_pids.values())
        assert [w["state"] for w in master_json(port)["workers"]] == ["ALIVE"]

        stopped = run(STOP, env)
        assert stopped.returncode == 0, stopped.stderr
        assert not any(alive(pid) for pid in started_pids.values())
        assert cluster_processes(directory) == []
        assert not any(accepts_connections(p) for p in range(port, port + 4))
        assert pids(directory) == {}
        # The fixture's cluster is still up.
        assert all(alive(pid) for pid in pids(spark_cluster.directory).values())
        assert accepts_connections(spark_cluster.port)

        again = run(STOP, env)  # nothing left to stop
        assert again.returncode == 0, again.stderr
        assert "nothing to stop" in again.stderr
    finally:
        run(STOP, env)
        shutil.rmtree(root, ignore_errors=True)
