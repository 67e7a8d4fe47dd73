"""What checking a stored Arrow table for damage costs, per design, on a large table.

Run with `python benchmarks/store_verification.py [--size-mib 1024]`. Stores one table in a
temporary directory, then times its load (medians of 5 repetitions after a cold one, the
cases interleaved):

- raw: `pa.ipc.open_file(pa.memory_map(path)).read_all()`, no check at all;
- sampled: the size and a checksum of 34 sampled 64 KiB blocks, then the memory-mapped
  read (the check every load does);
- reload, verified before: `IntermediateStore.get` of a file whose verified marker matches
  it (sampled check + marker check + memory-mapped read): a memoized reload;
- first load: `IntermediateStore.get` without a marker: the whole file is hashed once and
  the marker written; with a warm page cache, and cold (the file's pages dropped first);
- full check at every load: what a design without markers pays on each reload;
- per-block checksums in 2 threads: the first-load cost of a Merkle tree of 64 MiB blocks
  hashed in parallel (memory mapping gives no hook to check blocks as they are touched, so
  this design too must hash every block before the table is handed out);
- read through a copy + full check: what a load that copies anyway pays (object stores,
  pickled and msgpack payloads).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import statistics
import tempfile
from collections.abc import Callable

import pyarrow as pa
import xxhash

from solidflow.benchmarks.store_throughput import ORIGIN, make_table
from solidflow.benchmarks.suite.measure import prewarm, timed
from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.records import assess_buffer, full_checksum
from solidflow.engine.store.verified import marker_path

REPETITIONS = 5
BLOCK = 64 * 2**20


def drop_page_cache(path: str) -> None:
    """Evict the file's pages from the page cache (they are clean: the store synced them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def block_hashes(data: pa.Buffer, workers: int) -> list[bytes]:
    view = memoryview(data)
    ranges = [view[start : start + BLOCK] for start in range(0, len(view), BLOCK)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda block: xxhash.xxh3_128(block).digest(), ranges))


def measure(cases: dict[str, Callable[[], object]], prepare: dict[str, Callable[[], object]]):
    """(cold, median) milliseconds per case; `prepare[name]()` runs untimed before each."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(REPETITIONS + 1):
        for name, case in cases.items():
            prepare.get(name, lambda: None)()
            times[name].append(timed(case) * 1e3)
    return {name: (runs[0], statistics.median(runs[1:])) for name, runs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="table size (MiB)")
    args = parser.parse_args()
    table = make_table(args.size_mib)
    with tempfile.TemporaryDirectory() as directory:
        store = IntermediateStore(os.path.join(directory, "store"))
        prewarm(table.nbytes)
        stored = store.put(hashlib.sha256(b"t").hexdigest(), table, **ORIGIN)
        del table
        path, marker = stored.location, marker_path(stored.location)

        def sampled() -> None:
            data = pa.memory_map(path).read_buffer()
            assert assess_buffer(stored, data).present
            pa.ipc.open_file(data).read_all()

        def full_every_load() -> None:
            data = pa.memory_map(path).read_buffer()
            assert assess_buffer(stored, data).present
            assert full_checksum(data) == stored.full_checksum
            pa.ipc.open_file(data).read_all()

        def copied() -> None:
            with open(path, "rb") as file:
                data = file.read()
            assert full_checksum(data) == stored.full_checksum

        def forget_marker() -> None:
            if os.path.exists(marker):
                os.unlink(marker)

        def forget_marker_and_pages() -> None:
            forget_marker()
            drop_page_cache(path)

        cases = {
            "raw memory-mapped read, no check": lambda: pa.ipc.open_file(
                pa.memory_map(path)
            ).read_all(),
            "sampled check only": sampled,
            "reload, verified before (marker)": lambda: store.get(stored.key),
            "first load, warm page cache": lambda: store.get(stored.key),
            "first load, cold page cache": lambda: store.get(stored.key),
            "full check at every load": full_every_load,
            "per-block checksums, 1 thread": lambda: block_hashes(
                pa.memory_map(path).read_buffer(), 1
            ),
            "per-block checksums, 2 threads": lambda: block_hashes(
                pa.memory_map(path).read_buffer(), 2
            ),
            "read through a copy + full check": copied,
        }
        prepare = {
            "reload, verified before (marker)": lambda: store.get(stored.key),
            "first load, warm page cache": forget_marker,
            "first load, cold page cache": forget_marker_and_pages,
            "read through a copy + full check": lambda: prewarm(stored.bytes),
        }
        results = measure(cases, prepare)
        store.close()
    print(f"load of a {stored.bytes / 2**20:,.0f} MiB Arrow table (median of {REPETITIONS})")
    for name, (cold, median) in results.items():
        print(f"    {name:<36} {median:10.2f} ms   (first repetition {cold:.2f} ms)")


if __name__ == "__main__":
    main()
