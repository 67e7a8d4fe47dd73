"""Event logs as an older solidflow left them (before the index of output keys per run), and
writers of that version, for the migration tests and benchmark of every backend."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.rows import event_row

INDEXED_FROM = {"sqlite": 5, "postgres": 1}
"""The schema version of each backend before the index of output keys per run."""

_INSERT = "INSERT INTO events (run_id, seq, timestamp, type, step, payload) VALUES "

OldWriter = Callable[[list[EventRecord]], None]
"""Stores events as a writer of the older version does: without indexing them."""


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


def create_old_log(
    backend: str, settings: Mapping[str, str], *, runs: int, events_per_run: int
) -> None:
    """Create the log of `backend` ("sqlite" with a `path` setting, or "postgres" with a
    `url`) at the schema version before the index, holding `runs` runs of `events_per_run`
    events each."""
    rows = [
        event_row(old_event(f"old-{number}", seq))
        for number in range(runs)
        for seq in range(events_per_run)
    ]
    if backend == "sqlite":
        from solidflow.engine.instance.sqlite_schema import MIGRATIONS

        os.makedirs(os.path.dirname(settings["path"]), exist_ok=True)
        with contextlib.closing(_sqlite_connection(settings["path"])) as conn:
            for statements in MIGRATIONS[: INDEXED_FROM["sqlite"]]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {INDEXED_FROM['sqlite']}")
            conn.execute("BEGIN")
            conn.executemany(_INSERT + "(?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        return
    import psycopg

    from solidflow.integrations.postgres.schema import MIGRATIONS, VERSION_TABLE

    with psycopg.connect(settings["url"]) as pg:
        pg.execute(VERSION_TABLE)
        for statements in MIGRATIONS[: INDEXED_FROM["postgres"]]:
            for statement in statements:
                pg.execute(statement)
        pg.execute("INSERT INTO solidflow_schema VALUES (%s)", (INDEXED_FROM["postgres"],))
        copy_sql = "COPY events (run_id, seq, timestamp, type, step, payload) FROM STDIN"
        with pg.cursor().copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


@contextlib.contextmanager
def old_writer(backend: str, settings: Mapping[str, str]) -> Iterator[OldWriter]:
    """A writer of the older version on the log of `backend` (as in `create_old_log`)."""
    if backend == "sqlite":
        conn = _sqlite_connection(settings["path"])

        def write_sqlite(records: list[EventRecord]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT + "(?, ?, ?, ?, ?, ?)", [event_row(r) for r in records])
            conn.execute("COMMIT")

        try:
            yield write_sqlite
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(settings["url"], autocommit=True) as pg:

        def write_postgres(records: list[EventRecord]) -> None:
            with pg.transaction():
                pg.cursor().executemany(
                    _INSERT + "(%s, %s, %s, %s, %s, %s)", [event_row(r) for r in records]
                )

        yield write_postgres


@contextlib.contextmanager
def old_log(
    backend: str, settings: Mapping[str, str], *, runs: int, events_per_run: int
) -> Iterator[OldWriter]:
    """Create an older log (`create_old_log`) and give a writer of that version."""
    create_old_log(backend, settings, runs=runs, events_per_run=events_per_run)
    with old_writer(backend, settings) as write:
        yield write


def _sqlite_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn
