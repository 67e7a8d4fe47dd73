"""The event log, run registry, schedules and step claims in one SQLite file, shared by the
processes of a host."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from solidflow.definitions.config import Config
from solidflow.engine.events.records import (
    EVENT_TYPES,
    EventRecord,
    pack_payload,
    unpack_payload,
)
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.sqlite_recovery import recover_database
from solidflow.engine.instance.sqlite_schedules import MIGRATION as SCHEDULES_MIGRATION
from solidflow.engine.instance.sqlite_schedules import SqliteSchedules, SqliteStepClaims
from solidflow.engine.instance.storage import (
    MUTABLE_RUN_FIELDS,
    DuplicateRecordError,
    InstanceStorage,
    Recovery,
)
from solidflow.engine.sqlite_files import (
    SharedDatabase,
    is_damage,
    is_full,
    is_read_only,
    transaction,
    writable,
)
from solidflow.errors import EventLogError

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
    (  # run requests: queued runs have no driver yet; the plan; the driver's heartbeat
        """CREATE TABLE runs_4 (
            run_id TEXT PRIMARY KEY,
            pipeline_name TEXT NOT NULL,
            status TEXT NOT NULL,
            create_time REAL NOT NULL,
            start_time REAL,
            end_time REAL,
            tags BLOB NOT NULL,
            mode TEXT NOT NULL,
            target TEXT,
            run_config BLOB NOT NULL,
            parent_run_id TEXT,
            root_run_id TEXT,
            step_keys BLOB,
            solid_selection BLOB,
            executor TEXT,
            memoize INTEGER NOT NULL DEFAULT 0,
            external_outputs BLOB,
            pid INTEGER,
            hostname TEXT,
            process_start TEXT,
            heartbeat REAL
        )""",
        """INSERT INTO runs_4 (run_id, pipeline_name, status, create_time, start_time,
            end_time, tags, mode, target, run_config, parent_run_id, root_run_id, pid,
            hostname, process_start)
        SELECT run_id, pipeline_name, status, start_time, start_time, end_time, tags, mode,
            target, run_config, parent_run_id, root_run_id, pid, hostname, process_start
        FROM runs""",
        "DROP TABLE runs",
        "ALTER TABLE runs_4 RENAME TO runs",
        "CREATE INDEX runs_by_creation ON runs (create_time)",
        "CREATE INDEX runs_by_status ON runs (status, create_time)",
    ),
    SCHEDULES_MIGRATION,
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


_PACKED_RUN_FIELDS = ("tags", "run_config", "step_keys", "solid_selection", "external_outputs")
"""Fields stored as msgpack; a NULL (a row from before they existed) reads as the default."""


def _run_row(run: RunRecord) -> tuple[Any, ...]:
    values = {name: getattr(run, name) for name in _RUN_FIELDS}
    values.update({name: pack_payload(values[name]) for name in _PACKED_RUN_FIELDS})
    values["status"] = run.status.value
    return tuple(values.values())


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _run_from_row(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    for name in _PACKED_RUN_FIELDS:
        if values[name] is None:
            del values[name]
        else:
            values[name] = unpack_payload(values[name])
    for name in ("step_keys", "solid_selection", "external_outputs"):
        if name in values:
            values[name] = _tuples(values[name])
    values["status"] = RunStatus(values["status"])
    values["memoize"] = bool(values["memoize"])
    return RunRecord(**values)


def recover_command(home: Path | None) -> str:
    """The command that recovers the event log of the instance at `home`."""
    default = os.environ.get("SOLIDFLOW_HOME") or Path.home() / ".solidflow"
    if home is None or Path(default).expanduser().resolve() == home.resolve():
        return "solidflow recover"
    return f"solidflow --home {home} recover"


class SqliteSettings(Config):
    """The settings of the SQLite event log."""

    path: str = "events.db"
    """The database file; a relative path is relative to the instance's home."""


class SqliteStorage(SqliteSchedules, SqliteStepClaims, InstanceStorage):
    """Events, runs, schedules and step claims in one SQLite file (WAL mode), safe to share
    between processes.

    Each process opens its own connection on first use (again after a fork); threads of a
    process share it under a lock.
    """

    config_schema = SqliteSettings

    def __init__(self, path: str | os.PathLike[str], home: Path | None = None) -> None:
        self.path = Path(path)
        self._home = home
        self._db = SharedDatabase(self.path, self._migrate)

    @classmethod
    def from_config(cls, config: Config, home: Path) -> SqliteStorage:
        assert isinstance(config, SqliteSettings)
        return cls(home / Path(config.path).expanduser(), home)

    def _failure(self, error: Exception) -> EventLogError:
        """The error to raise for a failure of the database (damaged, read-only, full)."""
        path = str(self.path)
        if isinstance(error, sqlite3.DatabaseError) and is_damage(error):
            return EventLogError(
                f"the event log {path} is damaged ({error}): `{recover_command(self._home)}` "
                "sets it aside and copies what can still be read into a new one",
                path=path,
                reason="damaged",
            )
        if is_full(error):
            return EventLogError(
                f"no space left for the event log {path} ({error})", path=path, reason="full"
            )
        if is_read_only(error) or not writable(self.path):
            return EventLogError(
                f"the event log {path} is read-only ({error}): nothing can be recorded there; "
                "give a writable home with --home or SOLIDFLOW_HOME",
                path=path,
                reason="read-only",
            )
        return EventLogError(
            f"the event log {path} cannot be used: {error}", path=path, reason="unavailable"
        )

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
        try:
            with self._db.lock():
                yield self._db.connection()
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.Error, OSError) as error:
            raise self._failure(error) from error

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
            with self._locked() as conn:  # one statement: its own transaction
                conn.execute(_INSERT_RUN, _run_row(run))
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"run {run.run_id!r} is already stored") from error

    def update_run(
        self, run_id: str, *, expected: Collection[RunStatus] | None = None, **changes: Any
    ) -> bool:
        unknown = set(changes) - MUTABLE_RUN_FIELDS
        if unknown or not changes:
            raise ValueError(f"cannot change run fields {sorted(unknown) or 'none given'}")
        if "status" in changes:
            changes["status"] = RunStatus(changes["status"]).value
        assignments = ", ".join(f"{name} = ?" for name in changes)
        where, params = "run_id = ?", [*changes.values(), run_id]
        if expected is not None:
            where += f" AND status IN ({', '.join('?' * len(expected))})"
            params.extend(RunStatus(status).value for status in expected)
        with self._locked() as conn:  # one statement: its own transaction
            changed = conn.execute(f"UPDATE runs SET {assignments} WHERE {where}", params).rowcount
        if not changed and self.get_run(run_id) is None:
            raise KeyError(run_id)
        return changed > 0

    def delete_run(self, run_id: str) -> bool:
        with self._transaction() as conn:
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            cursor = conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        return cursor.rowcount > 0

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._locked() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else _run_from_row(row)

    def get_runs(
        self, status: RunStatus | Collection[RunStatus] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        where, params = "", []
        if status is not None:
            params = [s.value for s in ([status] if isinstance(status, RunStatus) else status)]
            where = f"WHERE status IN ({', '.join('?' * len(params))})"
        params.append(-1 if limit is None else limit)
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where}"
                " ORDER BY create_time DESC, rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [_run_from_row(row) for row in rows]

    def recover(self) -> Recovery:
        """Check the database; if it is damaged, move it aside and copy what can be read of
        it into a new one (see sqlite_recovery)."""
        self._db.close()
        return recover_database(
            self.path,
            self,
            run_columns=_RUN_COLUMNS,
            decode_run=_run_from_row,
            event_columns=_EVENT_COLUMNS,
            decode_event=_event_from_row,
        )

    def close(self) -> None:
        self._db.close()
