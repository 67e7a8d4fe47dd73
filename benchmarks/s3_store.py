"""The S3 store against writing and reading the same bytes by hand with s3fs and pyarrow.

Run with `python benchmarks/s3_store.py [--size-mib 512] [--repetitions 3]` (needs
`pip install 'solidflow[s3]' 'moto[server]'`). Starts moto's S3 server on 127.0.0.1 and
measures, on the same bucket:

(a) IntermediateStore.put of a --size-mib MiB Arrow table (checksums, the data object, the
    conditional put of the sidecar) vs writing the table as an Arrow IPC file through
    `s3fs.open(..., "wb")` by hand;
(b) IntermediateStore.get of it (the sidecar, the whole data, its full checksum, the Arrow
    reader) vs `cat_file` and `pa.ipc.open_file(...).read_all()` by hand.

The two cases of each part alternate (A B A B ...): one cold repetition, reported on its
own, then --repetitions timed ones, whose medians and their ratio are reported (goal: at most
1.2x). What each repetition wrote is deleted before the next, so the server holds one copy.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import s3fs

from solidflow.engine.store import IntermediateStore
from solidflow.integrations.s3.local_server import start_local_s3

COLUMNS = 8
ORIGIN: dict[str, Any] = {"run_id": "bench", "step": "step", "output": "result"}
BUCKET = "bench"


def key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_table(size_mib: int) -> pa.Table:
    rows = size_mib * 1024 * 1024 // 8 // COLUMNS
    rng = np.random.default_rng(0)
    return pa.table({f"c{i}": rng.random(rows) for i in range(COLUMNS)})


def alternated(
    cases: dict[str, Callable[[int], float]], repetitions: int
) -> dict[str, tuple[float, float]]:
    """(cold, median of `repetitions`) seconds of each case, the cases alternating."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for repetition in range(-1, repetitions):
        for name, case in cases.items():
            times[name].append(case(repetition))
    return {name: (runs[0], statistics.median(runs[1:])) for name, runs in times.items()}


def report(title: str, results: dict[str, tuple[float, float]], size: int) -> None:
    (store_name, (_, store_median)), (hand_name, (_, hand_median)) = results.items()
    print(title)
    for name, (cold, median) in results.items():
        rate = size / 1e6 / median
        print(f"  {name:<28} cold {cold:6.2f} s   median {median:6.2f} s   {rate:6.0f} MB/s")
    print(f"  {store_name} / {hand_name}: {store_median / hand_median:.2f}x (goal <= 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    server = start_local_s3(free_port())
    try:
        server.create_bucket(BUCKET)
        options = server.storage_options
        fs = s3fs.S3FileSystem(**options, use_listings_cache=False)
        store = IntermediateStore(f"s3://{BUCKET}/store", options)
        table = make_table(args.size_mib)
        size = table.nbytes
        print(f"{size / 2**20:.0f} MiB Arrow table on moto's S3 server at {server.endpoint_url}")

        def put(repetition: int) -> float:
            output = key("put", repetition)
            started = time.perf_counter()
            store.put(output, table, **ORIGIN, known_missing=True)
            elapsed = time.perf_counter() - started
            store.delete(output)
            return elapsed

        def write_by_hand(repetition: int) -> float:
            path = f"{BUCKET}/hand/{repetition}.arrow"
            started = time.perf_counter()
            with fs.open(path, "wb") as file, pa.ipc.new_file(file, table.schema) as writer:
                writer.write_table(table)
            elapsed = time.perf_counter() - started
            fs.rm_file(path)
            return elapsed

        report(
            "(a) write",
            alternated(
                {"store.put": put, "s3fs + pyarrow by hand": write_by_hand}, args.repetitions
            ),
            size,
        )

        stored = key("get")
        store.put(stored, table, **ORIGIN)
        by_hand = f"{BUCKET}/hand/read.arrow"
        with fs.open(by_hand, "wb") as file, pa.ipc.new_file(file, table.schema) as writer:
            writer.write_table(table)

        def get(repetition: int) -> float:
            started = time.perf_counter()
            loaded = store.get(stored)
            elapsed = time.perf_counter() - started
            assert loaded.num_rows == table.num_rows
            return elapsed

        def read_by_hand(repetition: int) -> float:
            started = time.perf_counter()
            loaded = pa.ipc.open_file(pa.py_buffer(fs.cat_file(by_hand))).read_all()
            elapsed = time.perf_counter() - started
            assert loaded.num_rows == table.num_rows
            return elapsed

        report(
            "(b) read",
            alternated(
                {"store.get": get, "s3fs + pyarrow by hand": read_by_hand}, args.repetitions
            ),
            size,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
