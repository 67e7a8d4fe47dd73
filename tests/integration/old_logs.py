"""Event logs as an older solidflow left them (before the index of output keys per run), and
writers of that version, for the migration tests and benchmark of every backend."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.rows import event_row

INDEXED_FROM = {"sqlite": 5, "postgres": 1}
"""The schema version of each backend before the index of output keys per run."""


def old_event(run_id: str, seq: int) -> EventRecord:
    """Every third event stores an output (under a key made of its run id and seq), the
    others log."""
    if seq % 3:
        return EventRecord(run_id=run_id, seq=seq, timestamp=1.0, type=EventType.LOG)
    key = hashlib.sha256(f"{run_id}/{seq}".encode()).hexdigest()[:32]
    payload = {"output": "result", "key": key, "stored": True}
    return EventRecord(
        run_id=run_id, seq=seq, timestamp=1.0, type=EventType.STEP_OUTPUT, step="s", payload=payload
    )


@contextlib.contextmanager
def old_log(
    backend: Any, runs: int, events_per_run: int
) -> Iterator[Callable[[list[EventRecord]], None]]:
    """Create `backend`'s log at the schema version before the index, holding `runs` runs of
    `events_per_run` events each; give a writer of that version (it stores events and does
    not index them)."""
    rows = [
        event_row(old_event(f"old-{number}", seq))
        for number in range(runs)
        for seq in range(events_per_run)
    ]
    insert = "INSERT INTO events (run_id, seq, timestamp, type, step, payload) VALUES "
    if backend.name == "sqlite":
        from solidflow.engine.instance.sqlite_schema import MIGRATIONS

        path = backend.settings["path"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 30000")
        for statements in MIGRATIONS[: INDEXED_FROM["sqlite"]]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {INDEXED_FROM['sqlite']}")
        conn.execute("BEGIN")
        conn.executemany(insert + "(?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")

        def write_sqlite(records: list[EventRecord]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert + "(?, ?, ?, ?, ?, ?)", [event_row(r) for r in records])
            conn.execute("COMMIT")

        try:
            yield write_sqlite
        finally:
            conn.close()
        return
    import psycopg

    from solidflow.integrations.postgres.schema import MIGRATIONS, VERSION_TABLE

    url = backend.settings["url"]
    with psycopg.connect(url) as conn:
        conn.execute(VERSION_TABLE)
        for statements in MIGRATIONS[: INDEXED_FROM["postgres"]]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("INSERT INTO solidflow_schema VALUES (%s)", (INDEXED_FROM["postgres"],))
        copy_sql = "COPY events (run_id, seq, timestamp, type, step, payload) FROM STDIN"
        with conn.cursor().copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    with psycopg.connect(url, autocommit=True) as writer:

        def write_postgres(records: list[EventRecord]) -> None:
            with writer.transaction():
                writer.cursor().executemany(
                    insert + "(%s, %s, %s, %s, %s, %s)", [event_row(r) for r in records]
                )

        yield write_postgres
