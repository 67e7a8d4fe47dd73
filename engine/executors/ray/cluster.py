"""Whether any node of the Ray cluster could ever run a task with the given options."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ray

_REFRESH_SECONDS = 2.0


def _requested(options: Mapping[str, Any]) -> dict[str, float]:
    wanted = {"CPU": float(options.get("num_cpus", 1))}
    if options.get("num_gpus"):
        wanted["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        wanted["memory"] = float(options["memory"])
    for name, amount in (options.get("resources") or {}).items():
        wanted[name] = float(amount)
    return {name: amount for name, amount in wanted.items() if amount > 0}


class ClusterResources:
    """The total resources of each alive node, refreshed now and then."""

    def __init__(self) -> None:
        self._nodes: list[dict[str, float]] = []
        self._read_at = 0.0

    def _totals(self, refresh: bool) -> list[dict[str, float]]:
        if refresh or time.monotonic() - self._read_at > _REFRESH_SECONDS or not self._nodes:
            nodes = ray.nodes()  # type: ignore[no-untyped-call]  # not annotated in Ray
            self._nodes = [node["Resources"] for node in nodes if node.get("Alive")]
            self._read_at = time.monotonic()
        return self._nodes

    def unsatisfiable(self, options: Mapping[str, Any], refresh: bool = False) -> str | None:
        """None if some node has all the resources the options ask for, else why not."""
        wanted = _requested(options)
        nodes = self._totals(refresh)
        for node in nodes:
            if all(node.get(name, 0.0) >= amount for name, amount in wanted.items()):
                return None
        asked = ", ".join(f"{name}={amount:g}" for name, amount in sorted(wanted.items()))
        offered = "; ".join(
            ", ".join(
                f"{name}={amount:g}"
                for name, amount in sorted(node.items())
                if not name.startswith("node:") and name != "object_store_memory"
            )
            for node in nodes
        )
        return f"no node offers {asked} (nodes offer: {offered or 'nothing'})"


_CLUSTERS: dict[str, ClusterResources] = {}


def cluster_resources() -> ClusterResources:
    """The ClusterResources of the cluster this driver is connected to, shared by its runs so
    that a run does not start with a read of the node table."""
    job_id = ray.get_runtime_context().get_job_id()
    cluster = _CLUSTERS.get(job_id)
    if cluster is None:
        cluster = _CLUSTERS[job_id] = ClusterResources()
    return cluster
