"""A real multi-node Ray cluster on 127.0.0.1 (head + node_a + node_b), one per test session."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "cluster_configs" / "local"


def _cluster_env() -> dict[str, str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0)
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
