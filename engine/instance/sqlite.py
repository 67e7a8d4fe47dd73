"""The event log and run registry in one SQLite file, shared by the processes of a host."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from solidflow.engine.events.records import (
    EVENT_TYPES,
    EventRecord,
    pack_payload,
    unpack_payload,
)
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.storage import DuplicateRecordError, InstanceStorage
from solidflow.engine.sqlite_files import SharedDatabase, transaction

_STEP_END_TYPES = "('STEP_SUCCESS', 'STEP_MEMOIZED')"
"""The events that record a step's lineage, as an SQL list (literal: the partial index on them
is only used by queries that name them the same way)."""

# _MIGRATIONS[i] takes the schema from version i to version i + 1 (PRAGMA user_version).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            timestamp REAL NOT NULL,
            type TEXT NOT NULL,
            step TEXT,
            payload BLOB NOT NULL,
            UNIQUE (run_id, seq)
        )""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            pipeline_name TEXT NOT NULL,
            status TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            tags BLOB NOT NULL,
            mode TEXT NOT NULL,
            target TEXT,
            run_config BLOB NOT NULL,
            parent_run_id TEXT,
            root_run_id TEXT,
            pid INTEGER NOT NULL,
            hostname TEXT NOT NULL,
            process_start TEXT
        )""",
        "CREATE INDEX runs_by_start ON runs (start_time)",
        "CREATE INDEX runs_by_status ON runs (status, start_time)",
    ),
    ("CREATE INDEX events_by_step ON events (step, type)",),
    (  # index only the events that end a step: a third of the rows to maintain on insert
        "DROP INDEX events_by_step",
        f"CREATE INDEX step_ends ON events (step) WHERE type IN {_STEP_END_TYPES}",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_EVENT_COLUMNS = "run_id, seq, timestamp, type, step, payload"
_EVENT_COLUMNS_OF_E = ", ".join(f"e.{column}" for column in _EVENT_COLUMNS.split(", "))
# The runs table has one column per RunRecord field: a new field needs a migration.
_RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunRecord))
_RUN_COLUMNS = ", ".join(_RUN_FIELDS)
_INSERT_RUN = f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * len(_RUN_FIELDS))})"


def _event_row(record: EventRecord) -> tuple[Any, ...]:
    return (
        record.run_id,
        record.seq,
        record.timestamp,
        record.type.value,
        record.step,
        record.packed_payload,
    )


def _event_from_row(row: tuple[Any, ...]) -> EventRecord:
    run_id, seq, timestamp, type_, step, payload = row
    return EventRecord(
        run_id=run_id,
        seq=seq,
        timestamp=timestamp,
        type=EVENT_TYPES[type_],
        step=step,
        packed_payload=payload,
    )


def _run_row(run: RunRecord) -> tuple[Any, ...]:
    values = {name: getattr(run, name) for name in _RUN_FIELDS}
    values.update(
        status=run.status.value,
        tags=pack_payload(run.tags),
        run_config=pack_payload(run.run_config),
    )
    return tuple(values.values())


def _run_from_row(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    values.update(
        status=RunStatus(values["status"]),
        tags=unpack_payload(values["tags"]),
        run_config=unpack_payload(values["run_config"]),
    )
    return RunRecord(**values)


class SqliteStorage(InstanceStorage):
    """Events and runs in one SQLite file (WAL mode), safe to share between processes.

    Each process opens its own connection on first use (again after a fork); threads of a
    process share it under a lock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db = SharedDatabase(self.path, self._migrate)

    def __repr__(self) -> str:
        return f"SqliteStorage({str(self.path)!r})"

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this solidflow "
                    f"supports ({SCHEMA_VERSION}); upgrade solidflow"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._db.lock():
            yield self._db.connection()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn, transaction(conn):
            yield conn

    def store_events(self, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        rows = [_event_row(record) for record in records]
        try:
            with self._transaction() as conn:
                conn.executemany(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"events not stored: {error}") from error

    def get_events(
        self, run_id: str, after: int = -1, limit: int | None = None
    ) -> list[EventRecord]:
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (run_id, after, -1 if limit is None else limit),
            ).fetchall()
        return [_event_from_row(row) for row in rows]

    def last_seq(self, run_id: str) -> int:
        with self._locked() as conn:
            (seq,) = conn.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", (run_id,)
            ).fetchone()
        return -1 if seq is None else seq

    def latest_step_end(self, pipeline_name: str, step: str) -> EventRecord | None:
        with self._locked() as conn:
            row = conn.execute(
                f"SELECT {_EVENT_COLUMNS_OF_E} FROM events e JOIN runs r ON e.run_id = r.run_id"
                f" WHERE e.step = ? AND e.type IN {_STEP_END_TYPES} AND r.pipeline_name = ?"
                " ORDER BY e.id DESC LIMIT 1",
                (step, pipeline_name),
            ).fetchone()
        return None if row is None else _event_from_row(row)

    def add_run(self, run: RunRecord) -> None:
        try:
            with self._transaction() as conn:
                conn.execute(_INSERT_RUN, _run_row(run))
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"run {run.run_id!r} is already stored") from error

    def update_run_status(self, run_id: str, status: RunStatus, end_time: float | None) -> None:
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
                (status.value, end_time, run_id),
            )
            if cursor.rowcount == 0:
                raise KeyError(run_id)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._locked() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else _run_from_row(row)

    def get_runs(
        self, status: RunStatus | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        where, params = ("", []) if status is None else ("WHERE status = ?", [status.value])
        params.append(-1 if limit is None else limit)
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where}"
                " ORDER BY start_time DESC, rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [_run_from_row(row) for row in rows]

    def close(self) -> None:
        self._db.close()
