"""Run each step as a Ray task; outputs travel between workers through the object store."""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import sys
import time
from collections.abc import Mapping
from typing import Any

import ray
import ray.cloudpickle
from ray.exceptions import GetTimeoutError, RayError

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.errors_info import ErrorInfo
from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import RayConfig
from solidflow.engine.executors.ray_events import RunEventBuffer, WorkerEvent
from solidflow.engine.executors.ray_resources import ClusterResources
from solidflow.engine.executors.ray_worker import RayRunContext, StepOutcome, step_function
from solidflow.engine.memoization import StoredRef
from solidflow.engine.step_runner import StepResult, StepTask
from solidflow.engine.store import IntermediateStore

DRAIN_INTERVAL = 0.2
"""Seconds between two reads of the event buffer actor while steps run."""
TEARDOWN_TIMEOUT = 60.0


def connect(config: RayConfig) -> None:
    """Join the configured cluster, or start a local Ray instance, unless already connected."""
    if ray.is_initialized():
        return
    ray.init(
        address=config.address,
        runtime_env=config.runtime_env or None,
        namespace=config.namespace,
        log_to_driver=True,
        configure_logging=False,
    )


def _register_user_modules(solid: SolidDefinition) -> None:
    """Ship the code of solids defined outside installed packages along with them."""
    module = sys.modules.get(getattr(solid.fn, "__module__", ""))
    path = getattr(module, "__file__", None) or ""
    if module is None or module.__name__ == "__main__" or "site-packages" in path:
        return
    with contextlib.suppress(ValueError):  # already registered, or a built-in module
        ray.cloudpickle.register_pickle_by_value(module)


def _outcome_or_error(future: Any) -> StepOutcome | RayError:
    try:
        return future.result()
    except RayError as error:
        return error


def _ended_without_outcome(ref: Any) -> bool:
    if ref is None or not ray.wait([ref], timeout=0)[0]:
        return False
    try:
        ray.get(ref)
    except RayError:
        return True
    return False


class RayExecutor(Executor):
    """Submits every step as a Ray task as soon as its inputs are promised: Ray starts it when
    they exist, on a node that has the resources the solid asks for."""

    name = "ray"
    config_schema = RayConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        assert isinstance(run.config, RayConfig)
        self._config = run.config
        connect(run.config)
        self._sink = sink
        self._run_id = run.run_id
        actor_name = f"solidflow-events-{run.run_id}"
        self._actor = RunEventBuffer.options(
            name=actor_name, namespace=run.config.namespace
        ).remote()
        self._context = RayRunContext(
            run_id=run.run_id,
            resources=run.resources,
            store_root=run.store_root,
            store_options=run.store_options,
            actor_name=actor_name,
            namespace=run.config.namespace,
        )
        self._store_spec = (run.store_root, dict(run.store_options))
        self._has_resources = bool(run.resources)
        self._store: IntermediateStore | None = None
        self._functions: dict[int, Any] = {}
        self._outcome_refs: dict[str, Any] = {}
        self._pending: dict[Any, StepTask] = {}
        self._ended_queue: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._waiting_for_resources: dict[str, tuple[StepTask, float]] = {}
        self._delivered: dict[tuple[str, str], int] = {}
        self._attempts: dict[str, list[str]] = {}
        self._cluster = ClusterResources()
        self._last_drain = 0.0
        self._drain_ref: Any = None

    # -- submission ----------------------------------------------------------------------

    def submit(self, task: StepTask) -> Mapping[str, Any] | None:
        options = dict(task.solid.tags.get("ray", {}))
        problem = self._cluster.unsatisfiable(options)
        if problem is not None:
            deadline = time.monotonic() + self._config.resource_wait_timeout
            self._waiting_for_resources[task.step_key] = (task, deadline)
            return None
        return self._launch(task, options)

    def _launch(self, task: StepTask, options: dict[str, Any]) -> dict[str, Any]:
        solid = task.solid
        function = self._functions.get(id(solid))
        if function is None:
            _register_user_modules(solid)
            function = self._functions[id(solid)] = ray.remote(
                step_function(self._context, solid)
            ).options(
                num_returns=1 + len(solid.outputs),
                max_retries=solid.retry.max_retries if solid.retry else 0,
                **options,
            )
        addresses = list(task.handles)
        upstream = sorted(  # steps of this run whose outcome says whether to skip
            {
                step
                for (step, _), handle in task.handles.items()
                if step in self._outcome_refs and not isinstance(handle, StoredRef)
            }
        )
        refs = function.remote(
            dataclasses.replace(task, solid=None, handles={}),
            addresses,
            upstream,
            *(task.handles[address] for address in addresses),
            *(self._outcome_refs[step] for step in upstream),
        )
        self._outcome_refs[task.step_key] = refs[0]
        self._pending[refs[0]] = task
        ended = self._ended_queue
        refs[0].future().add_done_callback(lambda future, ref=refs[0]: ended.put((ref, future)))
        return dict(zip(solid.output_names, refs[1:], strict=True))

    def can_submit(self) -> bool:
        limit = self._config.max_concurrent_steps
        return limit is None or len(self._pending) < limit

    # -- completion ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        while True:
            results = self._check_resources()
            if self._pending:
                ready = self._ended(DRAIN_INTERVAL)
                if ready:
                    results.extend(self._collect(ready))
            self._drain_in_background()
            if results or (not self._pending and not self._waiting_for_resources):
                return results
            if not self._pending:
                time.sleep(DRAIN_INTERVAL)

    def _ended(self, timeout: float) -> list[tuple[Any, Any]]:
        """(outcome ref, its future) of tasks that ended: waits up to `timeout` for one."""
        try:
            ready = [self._ended_queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                ready.append(self._ended_queue.get_nowait())
            except queue.Empty:
                return ready

    def _collect(self, ready: list[tuple[Any, Any]]) -> list[StepResult]:
        results = []
        for ref, future in ready:
            task = self._pending.pop(ref)
            outcome = _outcome_or_error(future)
            if isinstance(outcome, RayError):
                results.append(self._lost(task, outcome))
                continue
            self._deliver(outcome.events)
            results.append(
                StepResult(
                    step_key=outcome.step_key,
                    success=outcome.success,
                    message=outcome.message,
                    error=outcome.error,
                    skipped_because=outcome.skipped_because,
                )
            )
        self._sink.flush()
        return results

    def _lost(self, task: StepTask, error: RayError) -> StepResult:
        """A task that ended without an outcome: its worker or node died, or an input did."""
        for step in dict.fromkeys(step for step, _ in task.handles):
            if _ended_without_outcome(self._outcome_refs.get(step)):
                return StepResult(step_key=task.step_key, success=False, skipped_because=step)
        attempts = task.solid.retry.max_retries + 1 if task.solid.retry else 1
        message = (
            f"solid '{task.step_key}' was lost after {attempts} attempt(s): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
        self._sink.emit(
            EventType.STEP_FAILURE,
            task.step_key,
            {"message": message, "kind": "worker_lost", "error_class": type(error).__name__},
        )
        return StepResult(
            step_key=task.step_key,
            success=False,
            message=message,
            error=ErrorInfo(error_class=type(error).__name__, message=str(error), traceback=""),
        )

    def _check_resources(self) -> list[StepResult]:
        results = []
        for key, (task, deadline) in list(self._waiting_for_resources.items()):
            options = dict(task.solid.tags.get("ray", {}))
            problem = self._cluster.unsatisfiable(options, refresh=True)
            if problem is None:
                del self._waiting_for_resources[key]
                self._launch(task, options)
            elif time.monotonic() >= deadline:
                del self._waiting_for_resources[key]
                message = f"solid '{key}' cannot run on this Ray cluster: {problem}"
                self._sink.emit(
                    EventType.STEP_FAILURE, key, {"message": message, "kind": "unsatisfiable"}
                )
                results.append(StepResult(step_key=key, success=False, message=message))
        return results

    # -- events --------------------------------------------------------------------------

    def _drain_in_background(self) -> None:
        """Deliver what the last drain call returned, and ask again every DRAIN_INTERVAL,
        without ever blocking on the actor (it may still be starting)."""
        if self._drain_ref is not None and ray.wait([self._drain_ref], timeout=0)[0]:
            with contextlib.suppress(RayError):  # a restarted actor; outcomes carry the events
                self._deliver(ray.get(self._drain_ref))
                self._sink.flush()
            self._drain_ref = None
        if self._drain_ref is None and time.monotonic() - self._last_drain >= DRAIN_INTERVAL:
            self._drain_ref = self._actor.drain.remote()
            self._last_drain = time.monotonic()

    def _drain(self) -> None:
        self._last_drain = time.monotonic()
        try:
            events = ray.get(self._actor.drain.remote(), timeout=30)
        except (RayError, GetTimeoutError):
            return  # the actor restarts; every step's events also come with its outcome
        self._deliver(events)
        self._sink.flush()

    def _deliver(self, events: list[WorkerEvent]) -> None:
        """Emit the worker events not emitted yet, in each attempt's order."""
        for step_key, attempt, index, kind, step, payload, timestamp in events:
            attempts = self._attempts.setdefault(step_key, [])
            if step_key and attempt not in attempts:  # "" holds resource teardown events
                if attempts:
                    self._retried(step_key, attempts[-1], payload)
                attempts.append(attempt)
            delivered = self._delivered.get((step_key, attempt), 0)
            if index < delivered:
                continue
            self._delivered[(step_key, attempt)] = index + 1
            self._sink.emit(EventType(kind), step, payload, timestamp)

    def _retried(self, step_key: str, attempt: str, payload: dict[str, Any]) -> None:
        self._sink.emit(
            EventType.STEP_RETRY,
            step_key,
            {
                "message": f"the worker running attempt {attempt} of solid '{step_key}' died; "
                f"retrying on worker {payload.get('pid')} of node {payload.get('node_id')}",
                "reason": "worker_died",
            },
        )

    # -- end -----------------------------------------------------------------------------

    def finalize(self) -> list[str]:
        for ref in self._pending:
            ray.cancel(ref, force=True)
        self._pending.clear()
        failures: list[str] = []
        if self._drain_ref is not None:  # let it finish, so that killing the actor fails no call
            ray.wait([self._drain_ref], timeout=5)
        if not self._has_resources:  # nothing to tear down; outcomes carried every event
            ray.kill(self._actor)
            self._sink.flush()
            return failures
        try:
            ray.get(self._actor.finish.remote(), timeout=30)
            deadline = time.monotonic() + TEARDOWN_TIMEOUT
            while True:
                waiting, failures = ray.get(self._actor.teardown_state.remote(), timeout=30)
                self._drain()
                if not waiting:
                    break
                if time.monotonic() >= deadline:
                    failures.append(f"workers {', '.join(waiting)} did not tear down in time")
                    break
                time.sleep(0.1)
            self._drain()
        except (RayError, GetTimeoutError) as error:
            failures.append(f"resource teardown could not be confirmed: {error}")
        finally:
            ray.kill(self._actor)
        self._sink.flush()
        return failures

    def load(self, handle: Any) -> Any:
        if isinstance(handle, StoredRef):
            if self._store is None:
                self._store = IntermediateStore(*self._store_spec)  # type: ignore[arg-type]
            return self._store.get(handle.key)
        return ray.get(handle)
