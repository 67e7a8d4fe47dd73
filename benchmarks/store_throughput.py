"""Intermediate store throughput against raw Arrow IPC and against no store.

Run with `python benchmarks/store_throughput.py [--size-mib 1024]`. Measures, in a temporary
directory:

(a) IntermediateStore.put of a --size-mib MiB Arrow table vs a raw `pyarrow.ipc.new_file`
    write of the same table to the same directory (and, for reference, the raw write plus
    fsync, which put does to make the output durable);
(b) IntermediateStore.get of that table vs a raw `pa.ipc.open_file(pa.memory_map(path))
    .read_all()` of the stored file;
(c) put + flush of 10,000 tiny ints vs keeping them in a dict.

The cases of each part run interleaved (A B A B ...): one cold repetition, reported on its
own, then 5 timed repetitions whose median is reported. Memory is prewarmed before every
large write.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
from collections.abc import Callable
from typing import TypedDict

import numpy as np
import pyarrow as pa

from solidflow.benchmarks.suite.measure import prewarm, timed
from solidflow.engine.store import IntermediateStore

REPETITIONS = 5
TINY_OUTPUTS = 10_000
COLUMNS = 8


class Origin(TypedDict):
    """Where a benchmark's stored outputs come from: IntermediateStore.put's keywords."""

    run_id: str
    step: str
    output: str


ORIGIN = Origin(run_id="bench", step="step", output="result")


def key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def interleaved(cases: dict[str, Callable[[int], float]]) -> dict[str, tuple[float, float]]:
    """(cold, median of REPETITIONS) seconds of each case; `case(repetition)` returns the
    seconds of its timed part, repetition -1 being the cold one."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for repetition in range(-1, REPETITIONS):
        for name, case in cases.items():
            times[name].append(case(repetition))
    return {name: (runs[0], statistics.median(runs[1:])) for name, runs in times.items()}


def make_table(size_mib: int) -> pa.Table:
    rows = size_mib * 1024 * 1024 // 8 // COLUMNS
    rng = np.random.default_rng(0)
    return pa.table({f"c{i}": rng.random(rows) for i in range(COLUMNS)})


def raw_write(table: pa.Table, path: str, *, fsync: bool) -> None:
    with pa.OSFile(path, "wb") as file:
        with pa.ipc.new_file(file, table.schema) as writer:
            writer.write_table(table)
        if fsync:
            os.fsync(file.fileno())


def bench_write(store: IntermediateStore, table: pa.Table, directory: str) -> None:
    raw_path = os.path.join(directory, "raw.arrow")

    def put(repetition: int) -> float:
        prewarm(table.nbytes)
        seconds = timed(lambda: store.put(key("put", repetition), table, **ORIGIN))
        store.delete(key("put", repetition))
        return seconds

    def raw(fsync: bool) -> Callable[[int], float]:
        def run(repetition: int) -> float:
            prewarm(table.nbytes)
            seconds = timed(lambda: raw_write(table, raw_path, fsync=fsync))
            os.unlink(raw_path)
            return seconds

        return run

    results = interleaved({"put": put, "raw": raw(False), "raw+fsync": raw(True)})
    rate = {name: table.nbytes / 1e9 / median for name, (_, median) in results.items()}
    cold = {name: table.nbytes / 1e9 / first for name, (first, _) in results.items()}
    print(f"(a) write a {table.nbytes / 2**20:,.0f} MiB Arrow table")
    print(
        f"    store.put {rate['put']:.2f} GB/s, raw ipc write {rate['raw']:.2f} GB/s,"
        f" ratio {rate['put'] / rate['raw']:.2f}"
        f"  (raw write + fsync {rate['raw+fsync']:.2f} GB/s)"
    )
    print(
        f"    cold: store.put {cold['put']:.2f} GB/s, raw ipc write {cold['raw']:.2f} GB/s,"
        f" raw write + fsync {cold['raw+fsync']:.2f} GB/s"
    )


def bench_read(store: IntermediateStore, table: pa.Table) -> None:
    stored = store.put(key("read"), table, **ORIGIN)

    def get(repetition: int) -> float:
        return timed(lambda: store.get(stored.key))

    def raw(repetition: int) -> float:
        return timed(lambda: pa.ipc.open_file(pa.memory_map(stored.location)).read_all())

    results = interleaved({"get": get, "raw": raw})
    (cold_get, get_ms), (cold_raw, raw_ms) = (
        (first * 1e3, median * 1e3) for first, median in results.values()
    )
    print(f"(b) load the {stored.bytes / 2**20:,.0f} MiB table")
    print(
        f"    store.get {get_ms:.2f} ms, raw memory-mapped read_all {raw_ms:.2f} ms,"
        f" ratio {get_ms / raw_ms:.1f}"
    )
    print(f"    cold: store.get {cold_get:.2f} ms, raw {cold_raw:.2f} ms")


def bench_tiny(store: IntermediateStore) -> None:
    def put(repetition: int) -> float:
        keys = [key("tiny", repetition, i) for i in range(TINY_OUTPUTS)]

        def run() -> None:
            for i, output_key in enumerate(keys):
                store.put(output_key, i, **ORIGIN)
            store.flush()

        return timed(run)

    def no_store(repetition: int) -> float:
        keys = [key("none", repetition, i) for i in range(TINY_OUTPUTS)]
        kept: dict[str, int] = {}

        def run() -> None:
            for i, output_key in enumerate(keys):
                kept[output_key] = i

        return timed(run)

    results = interleaved({"put": put, "none": no_store})
    (cold_put, put_us), (cold_none, none_us) = (
        (first * 1e6 / TINY_OUTPUTS, median * 1e6 / TINY_OUTPUTS)
        for first, median in results.values()
    )
    print(f"(c) put + flush {TINY_OUTPUTS:,} tiny ints")
    print(f"    store {put_us:.2f} µs per output, no store (dict) {none_us:.3f} µs per output")
    print(f"    cold: store {cold_put:.2f} µs, no store {cold_none:.3f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="table size (MiB)")
    args = parser.parse_args()
    table = make_table(args.size_mib)
    with tempfile.TemporaryDirectory() as directory:
        store = IntermediateStore(os.path.join(directory, "store"))
        try:
            bench_write(store, table, directory)
            bench_read(store, table)
            bench_tiny(store)
        finally:
            store.close()


if __name__ == "__main__":
    main()
