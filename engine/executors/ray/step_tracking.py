"""What the driver tracks of the steps of a run sent to step-worker actors: each step and
output, the promise the scheduler passes for an output to come, and how long steps of each
solid take."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from solidflow.engine.executors.ray.pool import Worker, WorkerPool
from solidflow.engine.step.task import OutputAddress, StepTask

UNKNOWN_STEP_SECONDS = 1.0
"""What a step of a solid not seen yet is assumed to take (one step per batch)."""
SMOOTHING = 0.5
"""Weight of the newest measurement in a solid's step time estimate."""


@dataclass(frozen=True, slots=True)
class Promise:
    """The handle of an output a step will make: what the scheduler passes to its readers."""

    step: str
    output: str


WAITING, QUEUED, SENT, DONE = range(4)
EXPORTING = "x"
"""The wire of an output asked for from a worker's cache, until it is in the object store."""


@dataclass(eq=False, slots=True)
class Step:
    """A submitted step, as the driver tracks it."""

    task: StepTask
    token: int
    pool: WorkerPool
    addresses: list[OutputAddress]
    inputs: dict[str, list[Any]]
    flags: dict[str, int]
    state: int = WAITING
    attempt: int = 1
    worker: Worker | None = None
    blockers: int = 0
    """Producers this step waits for (to be sent, or to end)."""
    rerun: bool = False
    """Running again only to make outputs that were lost (its result was reported already)."""

    @property
    def key(self) -> str:
        return self.task.step_key


@dataclass(eq=False, slots=True)
class Output:
    """An output of a submitted step."""

    step: str
    name: str
    readers: int
    """Steps that read it and have not ended."""
    wire: list[Any] | None = None
    """How it travels (see `Where`), once its step succeeded."""
    worker: Worker | None = None
    """The worker whose cache holds it."""
    failed: str | None = None
    """The failed step because of which it will never exist."""


@dataclass(slots=True)
class StepTimes:
    """Seconds per step, per solid token, from the batches that came back."""

    seconds: dict[int, float] = field(default_factory=dict)

    def of(self, token: int) -> float:
        return self.seconds.get(token, UNKNOWN_STEP_SECONDS)

    def measured(self, tokens: list[int], seconds: float) -> None:
        per_step = seconds / max(len(tokens), 1)
        for token in set(tokens):
            old = self.seconds.get(token)
            self.seconds[token] = per_step if old is None else old + SMOOTHING * (per_step - old)
