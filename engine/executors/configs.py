"""The settings of each executor, importable without the engines they drive."""

from __future__ import annotations

from typing import Any

from solidflow.definitions.config import Config
from solidflow.engine.registry import Deferred


class InProcessConfig(Config):
    """The in-process executor takes no settings."""


class RayTasksConfig(Config):
    """Where and how steps run as Ray tasks (executor `ray_tasks`)."""

    address: str | None = None
    """None starts or joins a local Ray instance; "auto", "host:port" or "ray://host:port"
    join an existing cluster."""
    max_concurrent_steps: int | None = None
    """Most steps submitted at once (default: no limit; Ray queues them by resources)."""
    runtime_env: dict[str, Any] = {}
    namespace: str = "solidflow"
    resource_wait_timeout: float = 30.0
    """Seconds a step whose resources no node offers waits for a node that does, then fails."""
    task_events: bool = False
    """Also report every step task to Ray's task events, for the tasks list and timeline of the
    Ray dashboard. Off by default: it costs a few percent of throughput on small steps, and the
    run's event log records every step (with its node and worker) either way."""


class RayConfig(Config):
    """Where and how steps run on pools of long-lived Ray actors (executor `ray`)."""

    address: str | None = None
    """None starts or joins a local Ray instance; "auto", "host:port" or "ray://host:port"
    join an existing cluster."""
    connect_timeout: float = 15.0
    """Seconds to wait for the cluster's address to answer before the run fails."""
    workers: int | None = None
    """Actors of the pool that runs solids without Ray options of their own (default: one per
    CPU of the cluster's nodes, or per `workers_per_node`)."""
    workers_per_node: int | None = None
    """Actors of that pool on each node (default: one per CPU of the node)."""
    max_concurrent_steps: int | None = None
    """Most steps sent to actors at once (default: no limit)."""
    worker_retries: int = 2
    """Times a step is run again when the actor or node running it dies (its RetryPolicy's
    retries count too: the larger applies)."""
    runtime_env: dict[str, Any] = {}
    namespace: str = "solidflow"
    resource_wait_timeout: float = 30.0
    """Seconds a step whose resources no node offers waits for a node that does, then fails."""
    ray_logs: bool = False
    """Show Ray's own notices (e.g. about token authentication) on stderr."""


RAY = Deferred(
    implementation="solidflow.engine.executors.ray.actor_executor:RayActorExecutor",
    config_schema=RayConfig,
    extra="ray",
)
"""The Ray executor, as registered (`solidflow.executors` entry point "ray"): its settings are
known without importing Ray."""
RAY_TASKS = Deferred(
    implementation="solidflow.engine.executors.ray.executor:RayTaskExecutor",
    config_schema=RayTasksConfig,
    extra="ray",
)
"""The executor that runs each step as a Ray task (entry point "ray_tasks"), kept for
comparison."""
