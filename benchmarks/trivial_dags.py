"""Trivial solids and the DAG shapes the overhead benchmarks use, with their plain twins."""

from __future__ import annotations

from solidflow import PipelineDefinition, pipeline, solid


@solid
def source() -> int:
    return 1


@solid
def increment(x: int) -> int:
    return x + 1


@solid
def total(values: list[int]) -> int:
    return sum(values)


def fan_out(leaves: int) -> PipelineDefinition:
    """source -> `leaves` increments -> total (leaves + 2 solids); the last step is "total"."""

    @pipeline(name=f"fan_out_{leaves}")
    def dag() -> None:
        root = source()
        total([increment.alias(f"increment_{i}")(root) for i in range(leaves)])

    return dag


def chain(length: int) -> PipelineDefinition:
    """source -> increment -> ... (`length` solids); the last step is f"increment_{length - 2}"."""

    @pipeline(name=f"chain_{length}")
    def dag() -> None:
        value = source()
        for i in range(length - 1):
            value = increment.alias(f"increment_{i}")(value)

    return dag


def independent(count: int) -> PipelineDefinition:
    """`count` solids without edges."""

    @pipeline(name=f"independent_{count}")
    def dag() -> None:
        for i in range(count):
            source.alias(f"source_{i}")()

    return dag


def fan_out_by_hand(leaves: int) -> int:
    root = source.fn()
    return total.fn([increment.fn(root) for _ in range(leaves)])


def chain_by_hand(length: int) -> int:
    value = source.fn()
    for _ in range(length - 1):
        value = increment.fn(value)
    return value
