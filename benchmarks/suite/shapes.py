"""The trivial DAG shapes of the suite, each as a solidflow pipeline, as hand-written Ray code
and as plain function calls: fan-out 1 -> N -> 1, chain of N, N independent, and a random
layered DAG of N solids."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solidflow import PipelineDefinition, pipeline, solid
from solidflow.benchmarks.trivial_dags import (
    chain,
    chain_by_hand,
    fan_out,
    fan_out_by_hand,
    increment,
    independent,
    source,
    total,
)

SHAPES = ("fan_out", "chain", "independent", "layered")


@solid
def combine(values: list[int]) -> int:
    return sum(values) + 1


def layers(n: int, seed: int = 7) -> list[list[list[int]]]:
    """A random layered DAG of `n` nodes: for each layer, each node's parents (indexes into
    the layer before); the first layer has none. About sqrt(n) layers, 1-3 parents each."""
    rng = random.Random(seed)
    width = max(1, round(n**0.5))
    sizes = [width] * (n // width) + ([n % width] if n % width else [])
    found: list[list[list[int]]] = []
    for index, size in enumerate(sizes):
        if index == 0:
            found.append([[] for _ in range(size)])
        else:
            before = sizes[index - 1]
            found.append(
                [rng.sample(range(before), min(before, rng.randint(1, 3))) for _ in range(size)]
            )
    return found


def layered(n: int) -> PipelineDefinition:
    """The random layered DAG of `n` solids; sources in the first layer, fan-ins after."""
    shape = layers(n)

    @pipeline(name=f"layered_{n}")
    def dag() -> None:
        previous = [source.alias(f"l0_{i}")() for i in range(len(shape[0]))]
        for depth, layer in enumerate(shape[1:], start=1):
            previous = [
                combine.alias(f"l{depth}_{i}")([previous[p] for p in parents])
                for i, parents in enumerate(layer)
            ]

    return dag


def layered_by_hand(n: int) -> list[int]:
    shape = layers(n)
    previous = [source.fn() for _ in shape[0]]
    for layer in shape[1:]:
        previous = [combine.fn([previous[p] for p in parents]) for parents in layer]
    return previous


def independent_by_hand(n: int) -> list[int]:
    return [source.fn() for _ in range(n)]


PIPELINES: dict[str, Callable[[int], PipelineDefinition]] = {
    "fan_out": lambda n: fan_out(n - 2),
    "chain": chain,
    "independent": independent,
    "layered": layered,
}

PLAIN: dict[str, Callable[[int], Any]] = {
    "fan_out": lambda n: fan_out_by_hand(n - 2),
    "chain": chain_by_hand,
    "independent": independent_by_hand,
    "layered": layered_by_hand,
}


@dataclass(frozen=True)
class RayShapes:
    """The shapes written by hand with `ray.remote` (tasks created once per process)."""

    source: Any
    increment: Any
    total: Any
    combine: Any

    @classmethod
    def create(cls) -> RayShapes:
        import ray

        return cls(
            source=ray.remote(source.fn),
            increment=ray.remote(increment.fn),
            total=ray.remote(lambda *values: total.fn(list(values))),
            combine=ray.remote(lambda *values: combine.fn(list(values))),
        )

    def run(self, shape: str, n: int) -> Any:
        import ray

        if shape == "fan_out":
            root = self.source.remote()
            return ray.get(self.total.remote(*(self.increment.remote(root) for _ in range(n - 2))))
        if shape == "chain":
            value = self.source.remote()
            for _ in range(n - 1):
                value = self.increment.remote(value)
            return ray.get(value)
        if shape == "independent":
            return ray.get([self.source.remote() for _ in range(n)])
        plan = layers(n)
        previous = [self.source.remote() for _ in plan[0]]
        for layer in plan[1:]:
            previous = [self.combine.remote(*(previous[p] for p in parents)) for parents in layer]
        return ray.get(previous)


class RayActorPool:
    """The shapes written by hand on 2 plain long-lived actors, calls going to them in turn:
    the floor of Ray's own dispatch."""

    def __init__(self) -> None:
        import ray

        @ray.remote
        class Worker:
            def source(self) -> int:
                return source.fn()

            def increment(self, x: int) -> int:
                return increment.fn(x)

            def total(self, *values: int) -> int:
                return total.fn(list(values))

            def combine(self, *values: int) -> int:
                return combine.fn(list(values))

        self.actors = [Worker.remote() for _ in range(2)]
        ray.get([actor.source.remote() for actor in self.actors])

    def run(self, shape: str, n: int) -> Any:
        import ray

        a = self.actors
        if shape == "fan_out":
            root = a[0].source.remote()
            leaves = [a[i % 2].increment.remote(root) for i in range(n - 2)]
            return ray.get(a[1].total.remote(*leaves))
        if shape == "chain":
            value = a[0].source.remote()
            for i in range(n - 1):
                value = a[(i + 1) % 2].increment.remote(value)
            return ray.get(value)
        if shape == "independent":
            return ray.get([a[i % 2].source.remote() for i in range(n)])
        plan = layers(n)
        previous = [a[i % 2].source.remote() for i in range(len(plan[0]))]
        for layer in plan[1:]:
            previous = [
                a[i % 2].combine.remote(*(previous[p] for p in parents))
                for i, parents in enumerate(layer)
            ]
        return ray.get(previous)
