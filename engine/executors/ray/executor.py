"""Run each step as a Ray task; outputs travel between workers through the object store."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Mapping
from typing import Any

import ray
import ray.cloudpickle
from ray.exceptions import GetTimeoutError, RayError, TaskCancelledError

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import RayTasksConfig
from solidflow.engine.executors.ray.cluster import cluster_resources
from solidflow.engine.executors.ray.committer import not_committed
from solidflow.engine.executors.ray.events import event_buffer
from solidflow.engine.executors.ray.shipping import register_user_modules
from solidflow.engine.executors.ray.stores import DriverStore
from solidflow.engine.executors.ray.task_events import DRAIN_INTERVAL, TaskEventRelay
from solidflow.engine.executors.ray.task_wire import (
    RayRunContext,
    WireOutcome,
    encode_step,
    outcome_committing,
    outcome_events,
    step_result,
)
from solidflow.engine.executors.ray.worker import step_function
from solidflow.engine.plan.steps import addresses_read
from solidflow.engine.step.error_info import ErrorInfo
from solidflow.engine.step.task import StepResult, StepTask
from solidflow.engine.store import StoredRef

WAIT_WINDOW = 400
"""Most pending steps, oldest first, that one `ray.wait` looks at (its cost grows with them)."""
WAIT_BATCH = 100
"""Most ended steps a wait collects before it returns: a quarter of the wait window, at least
one (so that the end of a step among few is seen at once), or just one when the scheduler
waits for it; a wait also returns after DRAIN_INTERVAL."""
CANCEL_GRACE = 5.0
"""Seconds a canceled step task may take to stop after its KeyboardInterrupt before its worker
is killed."""
TEARDOWN_TIMEOUT = 60.0
COMMIT_TIMEOUT = 5.0
"""Seconds the end of a run waits for workers to commit the outputs their steps stored."""


def connect(config: RayTasksConfig) -> None:
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


_STEP_FUNCTIONS: dict[int, tuple[SolidDefinition, RayRunContext, bool, Any]] = {}
_STEP_FUNCTIONS_KEPT = 1024
"""Step functions kept for later runs; the oldest are dropped beyond this many."""


def _step_function(
    solid: SolidDefinition, context: RayRunContext, options: dict[str, Any], task_events: bool
) -> Any:
    """The Ray remote function that runs `solid` with `context`. It is made once and kept for
    the later runs with an equal context, so that Ray exports it and each worker loads it once."""
    cached = _STEP_FUNCTIONS.get(id(solid))
    if cached is not None and cached[0] is solid and cached[1:3] == (context, task_events):
        return cached[3]
    register_user_modules(solid)
    function = ray.remote(step_function(context, solid)).options(
        num_returns=1 + len(solid.outputs),
        max_retries=solid.retry.max_retries if solid.retry else 0,
        enable_task_events=task_events,
        **options,
    )
    _STEP_FUNCTIONS.pop(id(solid), None)
    _STEP_FUNCTIONS[id(solid)] = (solid, context, task_events, function)
    while len(_STEP_FUNCTIONS) > _STEP_FUNCTIONS_KEPT:
        del _STEP_FUNCTIONS[next(iter(_STEP_FUNCTIONS))]
    return function


def _outcomes(refs: list[Any]) -> list[WireOutcome | RayError]:
    """The outcome of each ended step task, or the error of a task that ended without one."""
    try:
        return ray.get(refs)
    except RayError:
        return [_outcome_or_error(ref) for ref in refs]


def _outcome_or_error(ref: Any) -> WireOutcome | RayError:
    try:
        outcome: WireOutcome = ray.get(ref)
        return outcome
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


class RayTaskExecutor(Executor):
    """Submits every step as a Ray task as soon as its inputs are promised: Ray starts it when
    they exist, on a node that has the resources the solid asks for."""

    name = "ray_tasks"
    config_schema = RayTasksConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        assert isinstance(run.config, RayTasksConfig)
        self._config = run.config
        connect(run.config)
        self._sink = sink
        self._run_id = run.run_id
        actor_name, self._actor = event_buffer(run.config.namespace)
        self._events = TaskEventRelay(run.run_id, self._actor, sink)
        self._context = RayRunContext(
            pipeline_name=run.pipeline_name,
            resources=run.resources,
            store_root=run.store_root,
            store_options=run.store_options,
            store_backend=run.store_backend,
            actor_name=actor_name,
            namespace=run.config.namespace,
        )
        self._store = DriverStore(run.store_root, run.store_options, run.store_backend)
        self._has_resources = bool(run.resources)
        self._functions: dict[int, Any] = {}
        self._outcome_refs: dict[str, Any] = {}
        self._pending: dict[Any, tuple[StepTask, dict[str, Any]]] = {}
        self._unpromised: set[str] = set()
        self._waiting_for_resources: dict[str, tuple[StepTask, float]] = {}
        self._committing: dict[str, str] = {}  # output key -> the step that stored it
        self._cluster = cluster_resources()
        self._canceling = False
        self._cancel_deadline: float | None = None
        self._canceled: list[StepResult] = []

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
            function = self._functions[id(solid)] = _step_function(
                solid, self._context, options, self._config.task_events
            )
        handles = task.handles
        refs = function.remote(
            encode_step(task), *(handles[address] for address in addresses_read(task.inputs))
        )
        outputs = dict(zip(solid.output_names, refs[1:], strict=True))
        self._outcome_refs[task.step_key] = refs[0]
        self._pending[refs[0]] = (task, outputs)
        return outputs

    def can_submit(self) -> bool:
        limit = self._config.max_concurrent_steps
        return limit is None or len(self._pending) < limit

    # -- completion ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            results, self._canceled = self._canceled, []
            results.extend(self._check_resources())
            if self._pending:
                self._kill_after_grace()
                results.extend(self._collect(self._ended(DRAIN_INTERVAL)))
            self._events.drain_in_background()
            if results or (not self._pending and not self._waiting_for_resources):
                return results
            if deadline is not None and time.monotonic() >= deadline:
                return results
            if not self._pending:
                time.sleep(DRAIN_INTERVAL)

    def cancel(self) -> None:
        """Cancel the step tasks in flight: Ray raises KeyboardInterrupt in a running one (as
        Ctrl-C would) and drops queued ones; a task still running CANCEL_GRACE seconds later
        is killed with its worker process."""
        self._canceling = True
        self._cancel_deadline = time.monotonic() + CANCEL_GRACE
        for ref in self._pending:
            with contextlib.suppress(RayError):
                ray.cancel(ref, force=False)
        for key in self._waiting_for_resources:
            self._canceled.append(
                StepResult(step_key=key, success=False, canceled=True, message="canceled")
            )
        self._waiting_for_resources.clear()

    def _kill_after_grace(self) -> None:
        if self._cancel_deadline is not None and time.monotonic() >= self._cancel_deadline:
            self._cancel_deadline = None
            for ref in self._pending:
                with contextlib.suppress(RayError):
                    ray.cancel(ref, force=True)

    def _ended(self, timeout: float) -> list[Any]:
        """Outcome refs of ended tasks among the oldest pending ones; waits up to `timeout`
        for as many as WAIT_BATCH says."""
        window = list(itertools.islice(self._pending, WAIT_WINDOW))
        blocked = self._unpromised or not self.can_submit()
        wanted = 1 if blocked else max(1, min(WAIT_BATCH, len(window) // 4))
        ready, _ = ray.wait(window, num_returns=wanted, timeout=timeout, fetch_local=False)
        return ready

    def _collect(self, ready: list[Any]) -> list[StepResult]:
        results = []
        for ref, outcome in zip(ready, _outcomes(ready), strict=True):
            task, outputs = self._pending.pop(ref)
            self._unpromised.discard(task.step_key)
            if isinstance(outcome, TaskCancelledError) or (
                isinstance(outcome, RayError) and self._canceling
            ):
                results.append(self._stopped(task.step_key))
                continue
            if isinstance(outcome, RayError):
                results.append(self._lost(task, outcome))
                continue
            self._events.deliver(outcome_events(outcome))
            self._committing.update(dict.fromkeys(outcome_committing(outcome), task.step_key))
            results.append(step_result(task.step_key, outcome, outputs))
        self._sink.flush()  # one write per batch of ended steps
        return results

    def _stopped(self, key: str) -> StepResult:
        """A step task that the run's cancel stopped; a STEP_FAILURE says so if it started and
        its worker's own (the interrupted attempt's) did not come through."""
        message = f"solid '{key}' was canceled"
        if key in self._events.started and key not in self._events.failed:
            self._sink.emit(EventType.STEP_FAILURE, key, {"message": message, "kind": "canceled"})
        return StepResult(step_key=key, success=False, canceled=True, message=message)

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
                self._unpromised.add(key)  # its children wait for its result
            elif time.monotonic() >= deadline:
                del self._waiting_for_resources[key]
                message = f"solid '{key}' cannot run on this Ray cluster: {problem}"
                self._sink.emit(
                    EventType.STEP_FAILURE, key, {"message": message, "kind": "unsatisfiable"}
                )
                results.append(StepResult(step_key=key, success=False, message=message))
        return results

    # -- end -----------------------------------------------------------------------------

    def finalize(self) -> list[str]:
        for ref in self._pending:
            ray.cancel(ref, force=True)
        self._pending.clear()
        self._wait_for_commits()
        self._store.close()
        failures: list[str] = []
        if not self._has_resources:  # nothing to tear down; outcomes carried every event
            self._actor.forget.remote(self._run_id)
            self._sink.flush()
            return failures
        try:
            ray.get(self._actor.finish.remote(self._run_id), timeout=30)
            deadline = time.monotonic() + TEARDOWN_TIMEOUT
            while True:
                waiting, failures = ray.get(
                    self._actor.teardown_state.remote(self._run_id), timeout=30
                )
                self._events.drain()
                if not waiting:
                    break
                if time.monotonic() >= deadline:
                    failures.append(f"workers {', '.join(waiting)} did not tear down in time")
                    break
                time.sleep(0.1)
            self._events.drain()
        except (RayError, GetTimeoutError) as error:
            failures.append(f"resource teardown could not be confirmed: {error}")
        finally:
            self._actor.forget.remote(self._run_id)
        self._sink.flush()
        return failures

    def _wait_for_commits(self) -> None:
        """Wait until the workers have committed the outputs that ended steps stored; warn
        about those still missing after COMMIT_TIMEOUT (their worker stopped first)."""
        if not self._committing:
            return
        missing = not_committed(self._store.opened(), list(self._committing), COMMIT_TIMEOUT)
        if missing:
            steps = ", ".join(sorted({self._committing[key] for key in missing}))
            self._sink.emit(
                EventType.LOG,
                None,
                {
                    "level": "WARNING",
                    "message": f"{len(missing)} output(s) of {steps} were not committed to the "
                    f"store within {COMMIT_TIMEOUT:g} s of the end of the run (their worker "
                    "stopped first); later runs compute them again",
                },
            )

    def load(self, handle: Any) -> Any:
        if isinstance(handle, StoredRef):
            return self._store.opened().get(handle.key)
        return ray.get(handle)
