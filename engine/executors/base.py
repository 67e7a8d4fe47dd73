"""The executor seam: the scheduler decides what runs when; an executor runs it somewhere."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from solidflow.definitions.config import Config
from solidflow.engine.events.sink import EventSink
from solidflow.engine.plan.steps import ResourceSpec
from solidflow.engine.registry import Registry
from solidflow.engine.step.task import StepResult, StepTask


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """What an executor needs to know about the run as a whole (serialisable)."""

    run_id: str
    pipeline_name: str
    resources: Mapping[str, ResourceSpec]
    config: Config
    store_root: str | None = None
    store_options: Mapping[str, Any] = field(default_factory=dict)
    store_backend: str | None = None
    durability: str = "run"
    """When outputs are synced and committed: "run", "step" or "none" (see OutputWriter)."""


class Executor(ABC):
    """Runs steps handed over by the scheduler and reports how they ended.

    Lifecycle: `init` once, then any number of `submit` (while `can_submit`) and `wait`
    calls, at most one `cancel` when the run is canceled (then `wait` until every submitted
    step reported), then `finalize` once, also when the run fails or is interrupted. All are
    called from the thread that drives the run.

    Executors are found by name in the `solidflow.executors` entry point group, or by
    "package.module:Class"; run_config's `execution: {NAME: {...}}` holds the settings of the
    one a run uses, validated by `config_schema`.
    """

    name: ClassVar[str]
    config_schema: ClassVar[type[Config]]

    @abstractmethod
    def init(self, run: RunSpec, sink: EventSink) -> None:
        """Prepare to run steps of `run`; events go to `sink`."""

    @abstractmethod
    def submit(self, task: StepTask) -> Mapping[str, Any] | None:
        """Start running a step whose inputs are all available (or promised).

        An executor that can start a step before its inputs exist returns handles of the
        step's future outputs, so that the scheduler submits its children at once; the child
        must then report `skipped_because` when an upstream step failed. Others return None.
        """

    @abstractmethod
    def can_submit(self) -> bool:
        """Whether another step may be submitted now."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Results of steps that ended since the last call. Waits for at least one if any
        run, but returns an empty list after `timeout` seconds (the scheduler then looks for a
        cancel request and waits again)."""

    def cancel(self) -> None:  # noqa: B027 (an optional hook, doing nothing by default)
        """Stop the steps in flight, cooperatively: `wait` then reports each of them, as
        `StepResult(canceled=True)` if it was stopped before its end. The scheduler submits
        nothing after it. The default lets the steps in flight run to their end."""

    @abstractmethod
    def finalize(self) -> list[str]:
        """Release everything (resource teardown included); returns teardown failure messages."""

    def load(self, handle: Any) -> Any:
        """The value an output handle refers to, in this process."""
        return handle


EXECUTORS = Registry[Executor]("executor", "solidflow.executors", Executor)
"""The executors, by name."""
