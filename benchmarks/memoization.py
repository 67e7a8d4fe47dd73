"""Memoized re-runs of a pipeline holding ~1 GiB of Arrow intermediates.

Prints, as medians of several repetitions after a warm-up:
  - the first run (every output written to the store),
  - a fully memoized re-run (nothing executes or loads),
  - a memoized re-run that also loads every table with `result.output_for`, against raw
    memory-mapped reads of the same Arrow files (`pa.ipc.open_file(pa.memory_map(path))`),
    measured in alternation, and their ratio,
  - a re-run after the leaf's config changed (only the leaf runs; it reads every table).

    python benchmarks/memoization.py [--size-mib 1024] [--tables 8] [--repetitions 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import numpy as np
import pyarrow as pa

from solidflow import Config, Instance, PipelineDefinition, execute_pipeline, pipeline, solid
from solidflow.benchmarks.suite.measure import prewarm, timed
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore, StoredOutput


class TableConfig(Config):
    rows: int
    seed: int


class LeafConfig(Config):
    label: str = "first"


def build(tables: int) -> PipelineDefinition:
    @solid(version="1")
    def make_table(config: TableConfig) -> pa.Table:
        rng = np.random.default_rng(config.seed)
        return pa.table({f"c{i}": rng.random(config.rows) for i in range(4)})

    @solid(version="1")
    def count_rows(parts: list[pa.Table], config: LeafConfig) -> int:
        return sum(part.num_rows for part in parts)

    @pipeline(name="arrow_intermediates")
    def intermediates() -> None:
        count_rows([make_table.alias(f"table_{i}")() for i in range(tables)])

    return intermediates


def _stored(store: IntermediateStore, key: str) -> StoredOutput:
    info = store.info(key)
    if info is None:
        raise RuntimeError(f"the benchmark's output {key} is not stored")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    rows = args.size_mib * 2**20 // (args.tables * 4 * 8)
    definition = build(args.tables)
    names = [f"table_{i}" for i in range(args.tables)]

    def config(label: str) -> dict:
        solids = {name: {"config": {"rows": rows, "seed": i}} for i, name in enumerate(names)}
        solids["count_rows"] = {"config": {"label": label}}
        return {"solids": solids}

    with tempfile.TemporaryDirectory() as home:
        instance = Instance(home)
        prewarm(args.size_mib * 2**20)
        first_s = timed(
            lambda: execute_pipeline(definition, config("first"), instance=instance, memoize=True)
        )
        first = instance.runs(limit=1)[0]
        keys = {
            e.step: e.payload["key"]
            for e in instance.events(first.run_id)
            if e.type is EventType.STEP_OUTPUT and e.step in names
        }
        store = IntermediateStore(instance.config.storage.root)
        stored = [_stored(store, keys[name]) for name in names]
        paths = [info.location for info in stored]
        stored_bytes = sum(info.bytes for info in stored)
        store.close()

        def memoized_run():
            return execute_pipeline(definition, config("first"), instance=instance, memoize=True)

        def memoized_and_loaded():
            result = memoized_run()
            return [result.output_for(name).num_rows for name in names]

        def raw_reads():
            return [pa.ipc.open_file(pa.memory_map(path)).read_all().num_rows for path in paths]

        assert memoized_and_loaded() == raw_reads()  # warm-up, and the same data
        memo, loaded, raw = [], [], []
        for _ in range(args.repetitions):
            memo.append(timed(memoized_run))
            loaded.append(timed(memoized_and_loaded))
            raw.append(timed(raw_reads))
        labels = iter(f"leaf-{i}" for i in range(args.repetitions + 1))
        leaf_changed = [
            timed(
                lambda: execute_pipeline(
                    definition, config(next(labels)), instance=instance, memoize=True
                )
            )
            for _ in range(args.repetitions)
        ]
        check = memoized_run()
        assert not [e for e in check.events if e.type is EventType.STEP_SUCCESS]

    median = statistics.median
    ms = 1000
    print(
        f"{args.tables} Arrow intermediates, {stored_bytes / 2**30:.2f} GiB stored, "
        f"median of {args.repetitions}"
    )
    print(
        f"first run (compute + store)          {first_s * ms:9.1f} ms  "
        f"({stored_bytes / first_s / 1e9:.2f} GB/s incl. compute)"
    )
    print(f"memoized re-run (nothing loads)      {median(memo) * ms:9.1f} ms")
    print(
        f"memoized re-run + load every table   {median(loaded) * ms:9.1f} ms  "
        f"(spread {min(loaded) * ms:.1f}-{max(loaded) * ms:.1f})"
    )
    print(
        f"raw memory-mapped IPC reads          {median(raw) * ms:9.1f} ms  "
        f"(spread {min(raw) * ms:.1f}-{max(raw) * ms:.1f})"
    )
    print(
        f"ratio memoized+load / raw reads      {median(loaded) / median(raw):9.2f}x  "
        f"(overhead {(median(loaded) - median(raw)) * ms:.1f} ms)"
    )
    print(f"re-run after the leaf changed        {median(leaf_changed) * ms:9.1f} ms")


if __name__ == "__main__":
    main()
