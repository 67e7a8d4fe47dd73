"""Pipelines of the run queue and sweep benchmarks (loaded by the runs' drivers as
`solidflow.benchmarks.queue_workloads:NAME`)."""

from __future__ import annotations

import time

from solidflow import Config, pipeline, solid
from solidflow.benchmarks.trivial_dags import chain

ten_solids = chain(10)
"""A chain of 10 trivial solids."""


class Seconds(Config):
    seconds: float = 10.0


@solid
def expensive(config: Seconds) -> list[int]:
    """The upstream every point of a sweep shares."""
    time.sleep(config.seconds)
    return list(range(1000))


class PartConfig(Config):
    x: int = 0
    seconds: float = 0.5


@solid
def part(config: PartConfig, data: list[int]) -> int:
    """The downstream part each point of a sweep computes for itself."""
    time.sleep(config.seconds)
    return sum(data) * config.x


@pipeline
def shared_upstream():
    part(expensive())
