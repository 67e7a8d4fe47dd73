"""`solidflow runs` with 100,000 runs in the log, on SQLite and PostgreSQL in the same run.

Run with `python benchmarks/runs_listing.py`; prints medians of `Instance.runs(limit=20)`
(what `solidflow runs` reads: the newest 20, after ending the live runs it finds dead; 7
calls after a warm-up) and of the command `solidflow runs` itself (7 processes), against
`solidflow --version` (the time to start the command and import solidflow). SQLite is
measured twice: in a home without settings (all defaults, nothing to read or validate) and
with a settings file, which is validated when the command starts. PostgreSQL is measured on a throwaway server when psycopg and the server programs are
installed; `--sqlite-only` leaves it out.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from solidflow.engine import Instance, RunRecord, RunStatus
from solidflow.engine.instance.rows import RUN_COLUMNS, RUN_FIELDS, run_row

RUNS = 100_000
REPETITIONS = 7
PROCESSES = 7
COMMAND = [sys.executable, "-m", "solidflow.cli"]
_INSERT = "INSERT INTO runs ({columns}) VALUES ({placeholders})"


def history(count: int) -> list[RunRecord]:
    """`count` ended runs of 10 pipelines, one a minute, and 5 live ones."""
    start = time.time() - count * 60
    runs = [
        RunRecord(
            run_id=f"run-{number:06d}",
            pipeline_name=f"pipeline-{number % 10}",
            status=RunStatus.SUCCESS if number % 7 else RunStatus.FAILURE,
            create_time=start + number * 60,
            start_time=start + number * 60 + 1,
            end_time=start + number * 60 + 30,
            tags={"team": "data", "n": str(number)},
            run_config={"solids": {"load": {"config": {"day": number}}}},
        )
        for number in range(count)
    ]
    return runs


def fill_sqlite(path: Path, runs: list[RunRecord]) -> None:
    """Store `runs` in the SQLite log at `path` in one transaction."""
    from solidflow.engine.instance.sqlite import SqliteStorage

    storage = SqliteStorage(path)
    placeholders = ", ".join("?" * len(RUN_FIELDS))
    with storage._transaction() as conn:  # bulk load: one transaction, not one per run
        conn.executemany(
            _INSERT.format(columns=RUN_COLUMNS, placeholders=placeholders),
            [run_row(run) for run in runs],
        )
    storage.close()


def fill_postgres(url: str, runs: list[RunRecord]) -> None:
    """Store `runs` in the PostgreSQL database at `url` (its schema created first)."""
    import psycopg

    from solidflow.integrations.postgres.storage import PostgresStorage

    PostgresStorage(url).get_runs(limit=1)  # creates the schema
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(f"COPY runs ({RUN_COLUMNS}) FROM STDIN") as copy,
    ):
        for run in runs:
            copy.write_row(run_row(run))


def median_ms(call: Callable[[], object], repetitions: int = REPETITIONS) -> float:
    call()
    durations = []
    for _ in range(repetitions):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


def command(*arguments: str) -> Callable[[], object]:
    """A call that runs `solidflow *arguments` in a new process."""
    return lambda: subprocess.run([*COMMAND, *arguments], check=True, capture_output=True)


def measure(name: str, home: Path) -> None:
    instance = Instance(home)
    listed = median_ms(lambda: instance.runs(limit=20))
    instance.storage.close()
    ran = median_ms(command("--home", str(home), "runs"), PROCESSES)
    print(f"{name}:")
    print(f"  Instance.runs(limit=20): {listed:8.1f} ms")
    print(f"  solidflow runs:          {ran:8.1f} ms (a new process)")


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    from solidflow.benchmarks.event_log_ingest import free_port
    from solidflow.integrations.postgres.local_server import start_local_postgres

    server = start_local_postgres(free_port())
    try:
        yield server.url()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="Leave PostgreSQL out.")
    options = parser.parse_args()
    started = median_ms(command("--version"), PROCESSES)
    print(f"solidflow --version:       {started:8.1f} ms (a new process)")
    runs = history(RUNS)
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory) / "sqlite"
        fill_sqlite(home / "events.db", runs)
        measure("SQLite", home)
        (home / "solidflow.yaml").write_text(yaml.safe_dump({"memoize": True}))
        measure("SQLite, with a settings file (validated)", home)
        if not options.sqlite_only:
            with postgres_url() as url:
                fill_postgres(url, runs)
                home = Path(directory) / "postgres"
                home.mkdir()
                (home / "solidflow.yaml").write_text(yaml.safe_dump({"event_log": {"url": url}}))
                measure("PostgreSQL", home)


if __name__ == "__main__":
    main()
