"""How big each benchmark scale is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scale:
    """Sizes of one scale: the solid counts N of the trivial DAGs (the largest is the scale's
    N; the smaller ones draw the overhead-vs-N plot), the table size of the data plane, the
    size of the memoization DAG, and repetitions after one warm-up."""

    name: str
    solids: tuple[int, ...]
    table_mib: int
    memo_solids: int
    repetitions: int


SCALES = {
    scale.name: scale
    for scale in (
        Scale("small", solids=(10, 100), table_mib=64, memo_solids=100, repetitions=3),
        Scale("medium", solids=(10, 100, 1_000), table_mib=512, memo_solids=1_000, repetitions=5),
        Scale(
            "large", solids=(100, 1_000, 10_000), table_mib=2_048, memo_solids=1_000, repetitions=5
        ),
    )
}
