"""Event log ingest rates, SQLite and PostgreSQL in the same run: store_events by batch size,
and EventSink.emit (which stores batches of the storage's `ingest_batch`: 1,000 events for
SQLite, 10,000 for PostgreSQL).

Run with `python benchmarks/event_log_ingest.py`; prints the median of 5 timed repetitions
after one warm-up for each case. PostgreSQL is measured on a throwaway server (the host's
initdb/pg_ctl, default durability settings) when psycopg and the server programs are
installed; `--sqlite-only` leaves it out.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.instance.sqlite import SqliteStorage
from solidflow.engine.instance.storage import InstanceStorage

REPETITIONS = 5
PAYLOAD = {"message": "step produced output", "output": "result", "rows": 1024}
# (batch size, events stored per repetition): small batches are slow, so fewer events.
STORE_CASES = ((1, 2_000), (100, 20_000), (1000, 50_000), (10_000, 100_000))
EMIT_EVENTS = 100_000


def median_rate(events: int, run: Callable[[int], None]) -> float:
    """Median events/s of `run(repetition)` over REPETITIONS timed calls after a warm-up."""
    run(-1)
    durations = []
    for repetition in range(REPETITIONS):
        start = time.perf_counter()
        run(repetition)
        durations.append(time.perf_counter() - start)
    return events / statistics.median(durations)


def store_rate(storage: InstanceStorage, batch: int, events: int) -> float:
    def run(repetition: int) -> None:
        run_id = f"store-{batch}-{repetition}"
        for start in range(0, events, batch):
            storage.store_events(
                [
                    EventRecord(
                        run_id=run_id,
                        seq=seq,
                        timestamp=time.time(),
                        type=EventType.STEP_OUTPUT,
                        step="step",
                        payload=PAYLOAD,
                    )
                    for seq in range(start, start + batch)
                ]
            )

    return median_rate(events, run)


def emit_rate(storage: InstanceStorage | None, name: str) -> float:
    def run(repetition: int) -> None:
        sink = EventSink(f"emit-{name}-{repetition}", storage)
        for _ in range(EMIT_EVENTS):
            sink.emit(EventType.STEP_OUTPUT, step="step", payload=PAYLOAD)
        sink.flush()

    return median_rate(EMIT_EVENTS, run)


def free_port() -> int:
    """A port of 127.0.0.1 that is free now (another process may take it before us)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def postgres_storage() -> Iterator[InstanceStorage]:
    """A PostgresStorage on a new local server, stopped afterwards."""
    from solidflow.integrations.postgres.local_server import start_local_postgres
    from solidflow.integrations.postgres.storage import PostgresStorage

    server = start_local_postgres(free_port())
    storage = PostgresStorage(server.url())
    try:
        yield storage
    finally:
        storage.close()
        server.stop()


def measure(name: str, storage: InstanceStorage) -> None:
    for batch, events in STORE_CASES:
        rate = store_rate(storage, batch, events)
        print(f"{name:<10} store_events, batch {batch:>5}: {rate:>12,.0f} events/s")
    stored = emit_rate(storage, name)
    print(
        f"{name:<10} EventSink.emit:             {stored:>12,.0f} events/s ({1e6 / stored:.2f} µs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="Leave PostgreSQL out.")
    options = parser.parse_args()
    memory = emit_rate(None, "memory")
    print(
        f"{'memory':<10} EventSink.emit:             {memory:>12,.0f} events/s ({1e6 / memory:.2f} µs)"
    )
    with tempfile.TemporaryDirectory() as home:
        storage = SqliteStorage(Path(home) / "events.db")
        try:
            measure("SQLite", storage)
        finally:
            storage.close()
    if not options.sqlite_only:
        with postgres_storage() as postgres:
            measure("PostgreSQL", postgres)


if __name__ == "__main__":
    main()
