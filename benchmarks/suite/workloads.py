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
from solidflow.benchmarks.suite.measure import Result, Spread, alternate, prewarm, timed
from solidflow.benchmarks.suite.scales import Scale
from solidflow.benchmarks.suite.shapes import PIPELINES, PLAIN, SHAPES, RayActorPool, RayShapes
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
    actor_pool: RayActorPool | None = None

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

    def measure(self, *runners: Callable[[], float] | None) -> list[list[float]]:
        return alternate(self.scale.repetitions, *runners, tick=self.tick)


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


OLD_RAY_EXECUTOR = "ray_tasks"
"""The executor that runs each step as a Ray task, kept in the table for comparison."""


def trivial(bench: Bench) -> Iterator[Result]:
    """Per-solid overhead on trivial solids (first runs, memoization on), for each shape and
    N: against hand-written `ray.remote` tasks, a hand-written pool of 2 actors and plain
    Python; at the largest N also the task-per-step executor."""
    for n in bench.scale.solids:
        for shape in SHAPES:
            definition = PIPELINES[shape](n)
            plain = PLAIN[shape]

            def first_run(definition=definition, executor=None) -> float:
                delete_outputs(bench.instance)  # a first run: every output is written
                return timed(lambda: bench.run(definition, executor=executor, memoize=True))

            def by_hand(plain=plain, shape=shape, n=n) -> float:
                if bench.ray_shapes is not None:
                    return timed(lambda: bench.ray_shapes.run(shape, n))
                return timed(lambda: plain(n))

            def floor(plain=plain, n=n) -> float:
                return timed(lambda: plain(n))

            actors = None
            if bench.actor_pool is not None:

                def actors(pool=bench.actor_pool, shape=shape, n=n) -> float:
                    return timed(lambda: pool.run(shape, n))

            old = None
            if bench.on_ray and n == max(bench.scale.solids):

                def old(definition=definition) -> float:
                    return first_run(definition, OLD_RAY_EXECUTOR)

            ours_s, base_s, floor_s, actors_s, old_s = bench.measure(
                first_run, by_hand, floor if bench.on_ray else None, actors, old
            )
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
            if actors_s:
                yield Result(
                    workload="trivial_vs_actors",
                    case=shape,
                    executor=bench.executor,
                    n=n,
                    ours=ours_s,
                    baseline_name="actor pool (2 actors)",
                    baseline=actors_s,
                )
            if old_s:
                yield Result(
                    workload="trivial",
                    case=shape,
                    executor=OLD_RAY_EXECUTOR,
                    n=n,
                    ours=old_s,
                    baseline_name=bench.baseline_name,
                    baseline=base_s,
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
    """A chain of 5 solids handing an Arrow table of `table_mib` along, memoization on (every
    output stored), with durability `run` and `step`, against the chain written by hand
    (without persistence) and the plain Python chain (compute alone); `none` tells what
    syncing to disk costs."""
    mib = bench.scale.table_mib

    def ours(durability: str) -> float:
        config = {
            "solids": {"make_table": {"config": {"mib": mib, "salt": uuid.uuid4().hex}}},
            "storage": {"durability": durability},
        }
        prewarm(mib * 2**20)
        return timed(lambda: bench.run(data_plane_chain, config, memoize=True))

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
        prewarm(mib * 2**20)
        return timed(chain)

    def compute() -> float:
        prewarm(mib * 2**20)
        return timed(lambda: _chain_plain(config))

    run_s, base_s, step_s, none_s, compute_s = bench.measure(
        lambda: ours("run"), by_hand, lambda: ours("step"), lambda: ours("none"), compute
    )
    size = DATA_PLANE_SOLIDS * mib * 2**20
    split = {
        "compute_seconds": Spread.of(compute_s).median,
        "sync_seconds": Spread.of(run_s).median - Spread.of(none_s).median,
        "durability_none_seconds": Spread.of(none_s).as_dict(),
    }
    for durability, samples in (("run", run_s), ("step", step_s)):
        yield Result(
            workload="data_plane",
            case=f"chain of {DATA_PLANE_SOLIDS}, {mib} MiB table, durability {durability}",
            executor=bench.executor,
            n=DATA_PLANE_SOLIDS,
            ours=samples,
            baseline_name=bench.baseline_name,
            baseline=base_s,
            size=size,
            extra=split if durability == "run" else {},
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

    ours_s, raw_s = bench.measure(ours, raw_insert)
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
        ours_s, base_s = bench.measure(ours, baseline)
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
