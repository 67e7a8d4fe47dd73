"""Run every step in the calling process, one at a time: for debugging and tests."""

from __future__ import annotations

from typing import Any

from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import InProcessConfig
from solidflow.engine.executors.interrupts import CancelInterrupt, interruptible
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import StepResult, StepTask
from solidflow.engine.store import IntermediateStore, StoredRef


class InProcessExecutor(Executor):
    """Runs each submitted step at once; its events are durable before the next step starts.
    A cancel interrupts the step as Ctrl-C does, when the run is driven by the main thread."""

    name = "in_process"
    config_schema = InProcessConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        self._sink = sink
        self._resources = ResourceManager(run.run_id, run.resources, sink.emit)
        self._store = (
            IntermediateStore(
                run.store_root,
                dict(run.store_options),
                backend=run.store_backend,
                warn=self._warn,
            )
            if run.store_root
            else None
        )
        self._loaded: dict[str, Any] = {}
        self._done: list[StepResult] = []

    def _warn(self, message: str) -> None:
        self._sink.emit(EventType.LOG, None, {"level": "WARNING", "message": message})

    def submit(self, task: StepTask) -> None:
        try:
            with interruptible():
                result = run_step(task, self.load, self._resources, self._sink.emit, self._store)
        except CancelInterrupt:
            message = f"solid '{task.step_key}' was canceled"
            result = StepResult(
                step_key=task.step_key, success=False, message=message, canceled=True
            )
        if self._store is not None:
            self._store.flush()
        self._sink.flush()
        self._done.append(result)

    def can_submit(self) -> bool:
        """Only once the last step's result is taken: the scheduler sees how each step ended
        (a resource that failed to initialise ends the run) before the next one starts."""
        return not self._done

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        done, self._done = self._done, []
        return done

    def finalize(self) -> list[str]:
        failures = self._resources.teardown()
        if self._store is not None:
            self._store.close()  # reopened if a result loads an output later
        self._sink.flush()
        return failures

    def load(self, handle: Any) -> Any:
        """Values pass as they are; stored outputs are read once per run."""
        if not isinstance(handle, StoredRef):
            return handle
        if handle.key not in self._loaded:
            if self._store is None:
                raise RuntimeError("this run has no intermediate store to read outputs from")
            self._loaded[handle.key] = self._store.get(handle.key)
        return self._loaded[handle.key]
