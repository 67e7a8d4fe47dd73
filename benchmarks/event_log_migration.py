"""Migrating an event log of 1,000,000 events while a run goes on writing to it, SQLite and
PostgreSQL in the same run.

The log is one an older solidflow left (before the index of output keys per run, which the
migration fills from the events in batches). While the migration runs, another process
writes as a busy run of that version does (30 events every 10 ms) and times each write: how
long the migration held the writer back is the longest of those times, to be under 1 s.

Run with `python benchmarks/event_log_migration.py [--events N]`. PostgreSQL is measured on
a throwaway server when psycopg and the server programs are installed; `--sqlite-only` leaves
it out.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from solidflow.benchmarks.old_logs import create_old_log, old_event, old_writer
from solidflow.benchmarks.runs_listing import postgres_url
from solidflow.engine.instance.storage import InstanceStorage, MigrationReport

EVENTS_PER_RUN = 1_000
WRITE_BATCH = 30
WRITE_INTERVAL = 0.01


def write_until_told(backend: str, settings: Mapping[str, str], pipe: Connection) -> None:
    """Store batches of events until `pipe` says stop, then send back when each began (wall
    clock) and how long it took."""
    took: list[tuple[float, float]] = []
    with old_writer(backend, settings) as write:
        pipe.send("ready")
        for number in range(1_000_000):
            if pipe.poll():
                break
            batch = [old_event(f"writer-{number}", seq) for seq in range(WRITE_BATCH)]
            began, started = time.time(), time.perf_counter()
            write(batch)
            took.append((began, time.perf_counter() - started))
            time.sleep(WRITE_INTERVAL)
    pipe.send(took)


def open_storage(backend: str, settings: Mapping[str, str]) -> InstanceStorage:
    if backend == "sqlite":
        from solidflow.engine.instance.sqlite import SqliteStorage

        return SqliteStorage(settings["path"])
    from solidflow.integrations.postgres.storage import PostgresStorage

    return PostgresStorage(settings["url"])


def measure(name: str, backend: str, settings: Mapping[str, str], events: int) -> None:
    runs = max(1, events // EVENTS_PER_RUN)
    create_old_log(backend, settings, runs=runs, events_per_run=EVENTS_PER_RUN)
    ours, theirs = multiprocessing.Pipe()
    writer = multiprocessing.get_context("spawn").Process(
        target=write_until_told, args=(backend, settings, theirs)
    )
    writer.start()
    assert ours.recv() == "ready"
    time.sleep(1.0)  # the writer's pace before the migration, for comparison
    started = time.time()
    storage = open_storage(backend, settings)
    try:
        report: MigrationReport = storage.migrate(lambda message: None)
    finally:
        storage.close()
    ended = time.time()
    ours.send("stop")
    writes: list[tuple[float, float]] = ours.recv()
    writer.join()
    before = [took for began, took in writes if began + took < started]
    during = [took for began, took in writes if began < ended and began + took > started]
    quantiles = statistics.quantiles(during, n=100, method="inclusive")
    print(
        f"{name:<10} {runs * EVENTS_PER_RUN:,} events migrated in {ended - started:.1f} s:"
        f" {report.batches} batches, the longest {report.longest_batch * 1000:.0f} ms"
    )
    print(
        f"{name:<10} a writer's {len(during):,} writes of {WRITE_BATCH} events meanwhile:"
        f" median {statistics.median(during) * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms,"
        f" longest {max(during) * 1000:.0f} ms (goal < 1,000 ms;"
        f" before the migration: median {statistics.median(before) * 1000:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events in the old log.")
    parser.add_argument("--sqlite-only", action="store_true", help="Leave PostgreSQL out.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "events.db")
        measure("SQLite", "sqlite", {"path": path}, options.events)
    if not options.sqlite_only:
        with postgres_url() as url:
            measure("PostgreSQL", "postgres", {"url": url}, options.events)


if __name__ == "__main__":
    main()
