"""Run every step in the calling process, one at a time: for debugging and tests."""

from __future__ import annotations

from solidflow.definitions.config import Config
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.resource_manager import ResourceManager
from solidflow.engine.step_runner import StepResult, StepTask, run_step


class InProcessConfig(Config):
    """The in-process executor takes no settings."""


class InProcessExecutor(Executor):
    """Runs each submitted step at once; its events are durable before the next step starts."""

    name = "in_process"
    config_schema = InProcessConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        self._sink = sink
        self._resources = ResourceManager(run.run_id, run.resources, sink.emit)
        self._done: list[StepResult] = []

    def submit(self, task: StepTask) -> None:
        result = run_step(task, task.input_values(self.load), self._resources, self._sink.emit)
        self._sink.flush()
        self._done.append(result)

    def can_submit(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        done, self._done = self._done, []
        return done

    def finalize(self) -> list[str]:
        failures = self._resources.teardown()
        self._sink.flush()
        return failures
