"""The scheduler against an executor that promises outputs and runs one step at a time."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from solidflow import Instance, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import InProcessConfig
from solidflow.engine.memo.memoization import plan_keys
from solidflow.engine.run.prepare import prepare_run
from solidflow.engine.run.scheduler import Scheduler, StepStatus
from solidflow.engine.step.task import StepResult, StepTask


@solid
def parent() -> int:
    return 1


@solid
def child(x: int) -> int:
    return x


@pipeline
def family() -> None:
    child.alias("grandchild")(child(parent()))


class OneAtATime(Executor):
    """Promises each step's outputs at once, runs one step at a time, fails 'parent'."""

    name = "one_at_a_time"
    config_schema = InProcessConfig

    def init(self, run: RunSpec, sink: EventSink) -> None:
        self.submitted: list[str] = []
        self._running: deque[StepTask] = deque()

    def submit(self, task: StepTask) -> Mapping[str, Any]:
        self.submitted.append(task.step_key)
        self._running.append(task)
        return {name: ("promise", task.step_key) for name in task.solid.output_names}

    def can_submit(self) -> bool:
        return not self._running

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        task = self._running.popleft()
        upstream = [step for step, _ in task.handles]
        if upstream:
            return [StepResult(step_key=task.step_key, success=False, skipped_because=upstream[0])]
        return [StepResult(step_key=task.step_key, success=False, message="failed")]

    def finalize(self) -> list[str]:
        return []


def test_a_step_skipped_while_it_waits_for_a_free_slot_is_never_submitted(tmp_path) -> None:
    with Instance(tmp_path) as instance:
        plan = prepare_run(family, None, None, None, None, instance).plan
    events = []
    sink = EventSink("run", None, listeners=[events.append])
    executor = OneAtATime()
    executor.init(None, sink)  # type: ignore[arg-type]
    keys = plan_keys(plan, lambda step, message: None)
    state = Scheduler(plan, executor, sink, "run", keys, {}).run()
    assert executor.submitted == ["parent"]
    assert state.status == {
        "parent": StepStatus.FAILED,
        "child": StepStatus.SKIPPED,
        "grandchild": StepStatus.SKIPPED,
    }
    skipped = [event.step for event in events if event.type is EventType.STEP_SKIPPED]
    assert skipped == ["child", "grandchild"]
