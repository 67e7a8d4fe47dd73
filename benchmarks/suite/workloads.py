"""The suite's workloads. Each yields Results; `Bench` runs solidflow pipelines on the chosen
executor and reports progress."""

from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from solidflow import Config, Instance, PipelineDefinition, execute_pipeline, pipeline, solid
from solidflow.benchmarks.suite.measure import Result, Spread, alternate, timed
from solidflow.benchmarks.suite.scales import Scale
from solidflow.benchmarks.suite.shapes import PIPELINES, PLAIN, SHAPES, RayShapes
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.store import IntermediateStore

DATA_PLANE_SOLIDS = 5
RAW_BATCH = 1_000


@dataclasses.dataclass
class Bench:
    """Runs pipelines on `executor` with a fresh instance; `tick` advances the progress bar."""

    executor: str
    instance: Instance
    scale: Scale
    tick: Callable[[], None]
    ray_shapes: RayShapes | None = None

    @property
    def on_ray(self) -> bool:
        return self.executor == "ray"

    @property
    def baseline_name(self) -> str:
        """What the engine is compared with: hand-written Ray code, or plain function calls."""
        return "ray.remote" if self.on_ray else "plain Python"

    def config(self, executor: str | None = None) -> dict[str, Any]:
        return {"execution": {executor or self.executor: {}}}

    def run(
        self,
        definition: PipelineDefinition,
        run_config: dict[str, Any] | None = None,
        *,
        executor: str | None = None,
        memoize: bool = False,
    ) -> Any:
        config = {**self.config(executor), **(run_config or {})}
        result = execute_pipeline(definition, config, instance=self.instance, memoize=memoize)
        if not result.success:
            failures = [
                e.payload.get("message") for e in result.events if e.type is EventType.STEP_FAILURE
            ]
            raise RuntimeError(f"benchmark pipeline {definition.name} failed: {failures}")
        return result

    def measure(self, ours: Callable[[], float], baseline=None, floor=None):
        return alternate(self.scale.repetitions, ours, baseline, floor, self.tick)


def delete_outputs(instance: Instance) -> None:
    """Delete every output in the instance's store, so that the next run writes them all."""
    store = IntermediateStore(instance.config.storage.root)
    try:
        for record in store.list():
            store.delete(record.key)
    finally:
        store.close()


def rounds(scale: Scale, executor: str) -> int:
    """How many progress ticks `run_workloads` makes."""
    trivial = len(scale.solids) * len(SHAPES)
    startup = 2 if executor == "ray" else 1
    return scale.repetitions * (trivial + 3 + startup)  # data plane, memoization, event log


def trivial(bench: Bench) -> Iterator[Result]:
    """Per-solid overhead on trivial solids, for each shape and N."""
    for n in bench.scale.solids:
        for shape in SHAPES:
            definition = PIPELINES[shape](n)
            plain = PLAIN[shape]

            def ours(definition=definition) -> float:
                delete_outputs(bench.instance)  # a first run: every output is written
                return timed(lambda: bench.run(definition))

            def by_hand(plain=plain, shape=shape, n=n) -> float:
                if bench.ray_shapes is not None:
                    return timed(lambda: bench.ray_shapes.run(shape, n))
                return timed(lambda: plain(n))

            def floor(plain=plain, n=n) -> float:
                return timed(lambda: plain(n))

            samples = bench.measure(ours, by_hand, floor if bench.on_ray else None)
            ours_s, base_s, floor_s = samples
            yield Result(
                workload="trivial",
                case=shape,
                executor=bench.executor,
                n=n,
                ours=ours_s,
                baseline_name=bench.baseline_name,
                baseline=base_s,
                floor=floor_s if bench.on_ray else base_s,
            )


class TableConfig(Config):
    mib: int
    salt: str


@solid
def make_table(config: TableConfig) -> pa.Table:
    rows = config.mib * 2**20 // 8
    return pa.table({"value": np.arange(rows, dtype=np.int64)})


@solid
def pass_table(table: pa.Table) -> pa.Table:
    return table


@pipeline(name="data_plane")
def data_plane_chain() -> None:
    table = make_table()
    for index in range(DATA_PLANE_SOLIDS - 1):
        table = pass_table.alias(f"pass_{index}")(table)


def data_plane(bench: Bench) -> Iterator[Result]:
    """A chain of 5 solids handing an Arrow table of `table_mib` along (stored at each step)."""
    mib = bench.scale.table_mib

    def ours() -> float:
        config = {"solids": {"make_table": {"config": {"mib": mib, "salt": uuid.uuid4().hex}}}}
        return timed(lambda: bench.run(data_plane_chain, config))

    config = TableConfig(mib=mib, salt="")
    if bench.on_ray:
        import ray

        # made once, so that exporting them to the workers happens in the warm-up, not timed
        make, passing = ray.remote(make_table.fn), ray.remote(pass_table.fn)

        def chain() -> None:
            ref = make.remote(config)
            for _ in range(DATA_PLANE_SOLIDS - 1):
                ref = passing.remote(ref)
            ray.wait([ref], fetch_local=False)

    else:

        def chain() -> None:
            _chain_plain(config)

    def by_hand() -> float:
        return timed(chain)

    ours_s, base_s, _ = bench.measure(ours, by_hand)
    size = DATA_PLANE_SOLIDS * mib * 2**20
    yield Result(
        workload="data_plane",
        case=f"chain of {DATA_PLANE_SOLIDS}, {mib} MiB table",
        executor=bench.executor,
        n=DATA_PLANE_SOLIDS,
        ours=ours_s,
        baseline_name=bench.baseline_name,
        baseline=base_s,
        size=size,
    )


def _chain_plain(config: TableConfig) -> None:
    table = make_table.fn(config)
    for _ in range(DATA_PLANE_SOLIDS - 1):
        table = pass_table.fn(table)


class SaltConfig(Config):
    salt: str = ""


class LeafConfig(Config):
    offset: int = 0


@solid
def memo_source(config: SaltConfig) -> int:
    return len(config.salt)


@solid
def memo_leaf(seed: int, config: LeafConfig) -> pa.Table:
    return pa.table({"value": np.arange(1_000, dtype=np.int64) + seed + config.offset})


@solid
def memo_total(tables: list[pa.Table]) -> int:
    return sum(table.num_rows for table in tables)


def memo_dag(n: int) -> PipelineDefinition:
    @pipeline(name=f"memoization_{n}")
    def dag() -> None:
        seed = memo_source()
        memo_total([memo_leaf.alias(f"leaf_{i}")(seed) for i in range(n - 2)])

    return dag


def memoization(bench: Bench) -> Iterator[Result]:
    """First run, fully memoized re-run and re-run after one leaf changed, on a fan-out of
    `memo_solids` solids with Arrow outputs."""
    definition = memo_dag(bench.scale.memo_solids)
    first_s: list[float] = []
    memo_s: list[float] = []
    leaf_s: list[float] = []
    for repetition in range(bench.scale.repetitions + 1):  # the first is a warm-up
        salt = {"solids": {"memo_source": {"config": {"salt": uuid.uuid4().hex}}}}
        changed = {"solids": {**salt["solids"], "leaf_0": {"config": {"offset": 1}}}}
        times = [
            timed(lambda config=config: bench.run(definition, config, memoize=True))
            for config in (salt, salt, changed)
        ]
        if repetition:
            for samples, seconds in zip((first_s, memo_s, leaf_s), times, strict=True):
                samples.append(seconds)
            bench.tick()
    n = bench.scale.memo_solids
    yield Result(
        workload="memoization", case="first run", executor=bench.executor, n=n, ours=first_s
    )
    for case, samples in (("fully memoized", memo_s), ("one leaf changed", leaf_s)):
        yield Result(
            workload="memoization",
            case=case,
            executor=bench.executor,
            n=n,
            ours=samples,
            baseline_name="first run",
            baseline=first_s,
        )


def event_log(bench: Bench) -> Iterator[Result]:
    """Events/s the central log ingests during the fan-out run, against inserting the same
    events straight into a fresh SQLite event log in batches of 1,000."""
    n = max(bench.scale.solids)
    definition = PIPELINES["fan_out"](n)
    counts: list[int] = []

    def ours() -> float:
        started = time.perf_counter()
        result = bench.run(definition)
        counts.append(len(result.events))
        return time.perf_counter() - started

    def raw_insert() -> float:
        events = bench.instance.events(bench.instance.runs(limit=1)[0].run_id)
        with tempfile.TemporaryDirectory() as home:
            fresh = Instance(Path(home))
            run_id = uuid.uuid4().hex
            copies = [
                EventRecord(
                    run_id=run_id,
                    seq=event.seq,
                    timestamp=event.timestamp,
                    type=event.type,
                    step=event.step,
                    packed_payload=event.packed_payload,
                )
                for event in events
            ]
            started = time.perf_counter()
            for start in range(0, len(copies), RAW_BATCH):
                fresh.store_events(copies[start : start + RAW_BATCH])
            elapsed = time.perf_counter() - started
            fresh.close()
        return elapsed

    ours_s, raw_s, _ = bench.measure(ours, raw_insert)
    events = counts[-1]
    yield Result(
        workload="event_log",
        case=f"fan-out of {n}: {events} events",
        executor=bench.executor,
        n=events,
        ours=ours_s,
        baseline_name="raw SQLite inserts",
        baseline=raw_s,
        extra={
            "events": events,
            "ingested_events_per_s": events / Spread.of(ours_s).median,
            "raw_insert_events_per_s": events / Spread.of(raw_s).median,
        },
    )


@solid
def first_step() -> int:
    return 1


@pipeline(name="startup")
def one_step() -> None:
    first_step()


def startup(bench: Bench) -> Iterator[Result]:
    """Seconds from calling execute_pipeline to the first step's start, per executor; on Ray
    against the time from `.remote()` to a hand-written task's start."""
    executors = ["in_process", "ray"] if bench.on_ray else ["in_process"]
    for executor in executors:

        def ours(executor=executor) -> float:
            called = time.time()
            result = bench.run(one_step, executor=executor)
            [start] = [e for e in result.events if e.type is EventType.STEP_START]
            return start.timestamp - called

        baseline = _ray_task_start() if executor == "ray" else None
        ours_s, base_s, _ = bench.measure(ours, baseline)
        yield Result(
            workload="startup",
            case="to the first step's start",
            executor=executor,
            n=1,
            ours=ours_s,
            baseline_name="ray.remote task start" if baseline else None,
            baseline=base_s,
        )


def _ray_task_start() -> Callable[[], float]:
    import ray

    @ray.remote
    def now() -> float:
        return time.time()

    def measure() -> float:
        called = time.time()
        return ray.get(now.remote()) - called

    return measure


WORKLOADS: tuple[Callable[[Bench], Iterator[Result]], ...] = (
    trivial,
    data_plane,
    memoization,
    event_log,
    startup,
)
