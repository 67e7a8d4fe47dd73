"""Pools of step-worker actors: one pool per shape (the Ray options of the solids it runs),
kept by the driver process across its runs, placed across the cluster's nodes, and repaired
when an actor dies."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from solidflow.engine.executors.ray.step_worker import RemoteStepWorker

DEFAULT_SHAPE = "{}"
"""The shape of solids without Ray options of their own."""


def shape_of(options: Mapping[str, Any]) -> str:
    """The key of the pool whose actors have `options` (num_cpus, num_gpus, resources, ...)."""
    return json.dumps(dict(options), sort_keys=True, default=str) if options else DEFAULT_SHAPE


@dataclass(eq=False)
class Worker:
    """One actor of a pool, as the driver sees it."""

    handle: Any
    pool: WorkerPool
    node_id: str | None
    """The node the actor was placed on (asked for until it answers `where`)."""
    solids: set[int] = field(default_factory=set)
    """Tokens of the solids already sent to it."""
    runs: set[str] = field(default_factory=set)
    """Runs it was set up for."""
    steps: int = 0
    """Steps sent to it whose results have not come back."""
    batches: int = 0
    """Batches in flight."""
    dead: bool = False
    where: Any = None
    """The ref of its [node id, pid], asked for when it was started."""

    def located(self) -> tuple[str, int] | None:
        """(node id, pid) of the actor, if it answered where it is."""
        try:
            node_id, pid = ray.get(self.where, timeout=0)
        except Exception:  # not answered yet, or it died first
            return None
        return node_id, pid

    def __repr__(self) -> str:
        return f"Worker({self.pool.shape}, node={self.node_id})"


def nodes_with_cpus() -> list[tuple[str, int, Mapping[str, float]]]:
    """(node id, whole CPUs, total resources) of each alive node that has CPUs."""
    found = []
    for node in ray.nodes():  # type: ignore[no-untyped-call]  # not annotated in Ray
        resources = node.get("Resources", {})
        if node.get("Alive") and resources.get("CPU", 0) >= 1:
            found.append((node["NodeID"], int(resources["CPU"]), resources))
    return found


def capacity(options: Mapping[str, Any], resources: Mapping[str, float], cpus: int) -> int:
    """How many actors of a shape a node with `resources` (and `cpus`) takes: one per CPU,
    fewer when the shape asks for more of a resource than the node has for each."""
    count = cpus
    wanted = dict(options.get("resources") or {})
    for name, option in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
        if options.get(option):
            wanted[name] = options[option]
    for name, amount in wanted.items():
        if amount > 0:
            count = min(count, int(resources.get(name, 0.0) // amount))
    return max(count, 0)


def placement(
    nodes: Sequence[tuple[str, int, Mapping[str, float]]],
    options: Mapping[str, Any],
    size: int | None,
    per_node: int | None,
) -> list[str]:
    """The node of each actor of a pool: `per_node` on each node that takes the shape, else one
    per CPU (what `capacity` says); at most `size` in all, spread over the nodes in turn."""
    slots = []
    for node_id, cpus, resources in nodes:
        fits = capacity(options, resources, cpus)
        if fits:
            slots.append([node_id] * (per_node if per_node is not None else fits))
    spread = [
        node for turn in range(max(map(len, slots), default=0)) for node in _turn(slots, turn)
    ]
    return spread if size is None else spread[:size]


def _turn(slots: list[list[str]], turn: int) -> list[str]:
    return [node_slots[turn] for node_slots in slots if turn < len(node_slots)]


class WorkerPool:
    """The actors of one shape. Actors are created asynchronously: calls sent to one wait
    until it is placed."""

    def __init__(self, shape: str, options: Mapping[str, Any]) -> None:
        self.shape = shape
        self.options = {key: value for key, value in options.items() if value is not None}
        self.workers: list[Worker] = []
        self._actor_options = dict(self.options)
        if self.options:  # Ray keeps a CPU for an actor that asks for any resource, unless told
            self._actor_options.setdefault("num_cpus", 0)

    def _start(self, node_id: str | None) -> Worker:
        settings: dict[str, Any] = dict(self._actor_options)
        if node_id is not None:
            settings["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id, soft=True)
        handle = RemoteStepWorker.options(max_restarts=0, max_task_retries=0, **settings).remote()
        return Worker(handle=handle, pool=self, node_id=node_id, where=handle.where.remote())

    def grow_to(self, nodes: Sequence[str]) -> None:
        """Start actors until there is one for each of `nodes` (node ids, with repeats)."""
        placed: dict[str | None, int] = {}
        for worker in self.workers:
            placed[worker.node_id] = placed.get(worker.node_id, 0) + 1
        for node_id in nodes:
            if placed.get(node_id, 0) > 0:
                placed[node_id] -= 1
                continue
            self.workers.append(self._start(node_id))

    def replace(self, dead: Worker) -> Worker:
        """A new actor in place of one that died, on the same node if it is alive."""
        dead.dead = True
        alive = {node_id for node_id, _, _ in nodes_with_cpus()}
        worker = self._start(dead.node_id if dead.node_id in alive else None)
        self.workers[self.workers.index(dead)] = worker
        return worker

    def stop(self, worker: Worker) -> Worker:
        """Kill an actor (its steps stop at once) and start a new one in its place."""
        ray.kill(worker.handle, no_restart=True)
        return self.replace(worker)


_POOLS: dict[tuple[str, str], WorkerPool] = {}
"""The pools of this driver process, by (Ray job id, shape); they live as long as the driver's
connection to Ray."""


def pool_for(options: Mapping[str, Any]) -> WorkerPool:
    """The pool of actors with `options`, created (empty) on first use."""
    shape = shape_of(options)
    key = (ray.get_runtime_context().get_job_id(), shape)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = WorkerPool(shape, options)
    return pool
