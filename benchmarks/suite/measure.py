"""Timing pairs in alternation and summarising them: medians, spread, pairwise ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def timed(fn: Callable[[], object]) -> float:
    """Seconds `fn()` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def prewarm(nbytes: int) -> None:
    """Touch `nbytes` of fresh memory and free it, so that the timed step finds it mapped
    (memory left free for a while is handed back to the host and slow to touch again)."""
    block = np.ones(nbytes, dtype=np.uint8)
    del block


@dataclass(frozen=True, slots=True)
class Spread:
    """The median, minimum and maximum of some samples."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, samples: list[float]) -> Spread:
        return cls(statistics.median(samples), min(samples), max(samples))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.low, "max": self.high}


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One measured item: solidflow's samples (seconds, or `unit` for rates) against a
    baseline measured pair by pair, and optionally the plain-Python floor.

    `per` is what a time is divided by for per-item figures (the solid count), `size` the
    bytes a data-plane item moves (for GB/s)."""

    workload: str
    case: str
    executor: str
    n: int
    ours: list[float]
    baseline_name: str | None = None
    baseline: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def gb_per_s(self, samples: list[float]) -> float:
        """The data-plane rate of the median of `samples` (this result's or its baseline's)."""
        assert self.size is not None
        return self.size / Spread.of(samples).median / 1e9

    @property
    def ratio(self) -> Spread | None:
        """solidflow / baseline, pair by pair."""
        if not self.baseline:
            return None
        return Spread.of([a / b for a, b in zip(self.ours, self.baseline, strict=True)])

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "workload": self.workload,
            "case": self.case,
            "executor": self.executor,
            "n": self.n,
            "solidflow_seconds": Spread.of(self.ours).as_dict(),
            "samples": {"solidflow": self.ours},
        }
        if self.baseline:
            found["baseline"] = self.baseline_name
            found["baseline_seconds"] = Spread.of(self.baseline).as_dict()
            found["ratio"] = self.ratio.as_dict()
            found["samples"]["baseline"] = self.baseline
        if self.floor:
            found["plain_python_seconds"] = Spread.of(self.floor).as_dict()
            found["samples"]["plain_python"] = self.floor
        if self.size is not None:
            found["bytes"] = self.size
            found["solidflow_gb_per_s"] = self.gb_per_s(self.ours)
            if self.baseline:
                found["baseline_gb_per_s"] = self.gb_per_s(self.baseline)
        found.update(self.extra)
        return found


def alternate(
    repetitions: int,
    *runners: Callable[[], float] | None,
    tick: Callable[[], None] = lambda: None,
) -> list[list[float]]:
    """Run each callable once as a warm-up, then `repetitions` times in alternation
    (A B C A B C ...); each returns the seconds it measured. `tick` is called after each
    round. Returns the samples of each, in order ([] for a callable that is None)."""
    active = [fn for fn in runners if fn is not None]
    for fn in active:
        fn()
    samples: dict[int, list[float]] = {index: [] for index in range(len(runners))}
    for _ in range(repetitions):
        for index, fn in enumerate(runners):
            if fn is not None:
                samples[index].append(fn())
        tick()
    return [samples[index] for index in range(len(runners))]
