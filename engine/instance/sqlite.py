"""The event log, run registry, schedules and step claims in one SQLite file, shared by the
processes of a host (whose leases are files beside it)."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solidflow.engine.events.records import EventRecord, stored_record
from solidflow.engine.events.store_keys import KEYED_EVENT_TYPES, index_rows
from solidflow.engine.instance.file_leases import FileLeases
from solidflow.engine.instance.migrations import Backfilled, backfill, check_version
from solidflow.engine.instance.rows import (
    EVENT_COLUMNS,
    RUN_COLUMNS,
    RUN_FIELDS,
    event_from_row,
    event_row,
    latest_step_end_query,
    run_from_row,
    run_row,
)
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.sqlite_recovery import recover_database
from solidflow.engine.instance.sqlite_schedules import SqliteSchedules, SqliteStepClaims
from solidflow.engine.instance.sqlite_schema import MIGRATIONS
from solidflow.engine.instance.storage import (
    DuplicateRecordError,
    InstanceStorage,
    MigrationReport,
    Recovery,
    run_changes,
)
from solidflow.engine.registry import SchemaAt
from solidflow.engine.sqlite_files import (
    SharedDatabase,
    is_damage,
    is_full,
    is_read_only,
    transaction,
    writable,
)
from solidflow.errors import EventLogError

if TYPE_CHECKING:
    from solidflow.definitions.config import Config

SCHEMA_VERSION = len(MIGRATIONS)
_BACKFILLED = frozenset({5})
"""The migrations (by index) after which run_outputs is filled from the stored events."""
_KEYED_TYPES = "(" + ", ".join(f"'{kind.value}'" for kind in sorted(KEYED_EVENT_TYPES)) + ")"
_WRITERS_TURN = 0.1
"""Seconds a migration waits between batches: a writer waiting for the lock retries after at
most 100 ms (SQLite's busy handler), and must find it free."""
_NO_ID_LIMIT = 2**63 - 1
_PARAMETERS = 500
"""Values bound per statement of a query over many keys or runs."""

_LATEST_STEP_END = latest_step_end_query("?")
_INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"


def recover_command(home: Path | None) -> str:
    """The command that recovers the event log of the instance at `home`."""
    default = os.environ.get("SOLIDFLOW_HOME") or Path.home() / ".solidflow"
    if home is None or Path(default).expanduser().resolve() == home.resolve():
        return "solidflow recover"
    return f"solidflow --home {home} recover"


class SqliteStorage(SqliteSchedules, SqliteStepClaims, InstanceStorage):
    """Events, runs, schedules and step claims in one SQLite file (WAL mode), safe to share
    between processes, and the leases of live runs as files in `leases/` beside it.

    Each process opens its own connection on first use (again after a fork); threads of a
    process share it under a lock.
    """

    config_schema = SchemaAt("solidflow.engine.instance.sqlite_settings:SqliteSettings")

    def __init__(self, path: str | os.PathLike[str], home: Path | None = None) -> None:
        self.path = Path(path)
        self._home = home
        self._db = SharedDatabase(self.path, self._migrate)
        self._leases = FileLeases(self.path.parent / "leases")
        self._migrated: MigrationReport | None = None

    @classmethod
    def from_config(cls, config: Config, home: Path) -> SqliteStorage:
        from solidflow.engine.instance.sqlite_settings import SqliteSettings

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
        """Bring the schema up to date when a connection opens (under the lock of the
        database's directory, so one process at a time)."""
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        check_version(found, SCHEMA_VERSION, str(self.path))
        filled = Backfilled()
        for version in range(found, SCHEMA_VERSION):
            with transaction(conn):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                if version not in _BACKFILLED:
                    conn.execute(f"PRAGMA user_version = {version + 1}")
            if version in _BACKFILLED:
                (until,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
                filled = backfill(
                    functools.partial(self._index_events, conn, until=until),
                    pause=_WRITERS_TURN,
                )
                with transaction(conn):  # what writers stored meanwhile, then the version
                    self._index_events(conn, filled.last_id, -1)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
        self._migrated = MigrationReport(
            location=str(self.path),
            from_version=found,
            to_version=SCHEMA_VERSION,
            batches=filled.batches,
            rows=filled.rows,
            longest_batch=filled.longest,
        )

    def _index_events(
        self, conn: sqlite3.Connection, after: int, limit: int, until: int | None = None
    ) -> tuple[int, int]:
        """Index the output keys named by up to `limit` (-1: all) events with id > `after`
        (and <= `until`, if given), in a transaction of its own unless one is open; the last
        id read and the count."""
        with contextlib.nullcontext() if conn.in_transaction else transaction(conn):
            rows = conn.execute(
                f"SELECT id, {EVENT_COLUMNS} FROM events WHERE id > ? AND id <= ? AND type IN"
                f" {_KEYED_TYPES} ORDER BY id LIMIT ?",
                (after, _NO_ID_LIMIT if until is None else until, limit),
            ).fetchall()
            self._index(conn, [event_from_row(row[1:]) for row in rows])
        return (rows[-1][0] if rows else after), len(rows)

    @staticmethod
    def _index(conn: sqlite3.Connection, records: list[EventRecord]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO run_outputs (run_id, key) VALUES (?, ?)", index_rows(records)
        )

    def migrate(self, progress: Callable[[str], object] = print) -> MigrationReport:
        """The schema is brought up to date when the file is opened: open it, and report the
        migration that this storage made then (once), else that nothing changed."""
        with self._locked():
            pass
        report, self._migrated = self._migrated, None
        if report is None:
            report = MigrationReport(
                location=str(self.path), from_version=SCHEMA_VERSION, to_version=SCHEMA_VERSION
            )
        progress(f"{self.path}: schema version {report.to_version}")
        return report

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
        rows = [event_row(record) for record in records]
        try:
            with self._transaction() as conn:
                conn.executemany(
                    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._index(conn, list(records))
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"events not stored: {error}") from error

    def get_events(
        self, run_id: str, after: int = -1, limit: int | None = None
    ) -> list[EventRecord]:
        with self._locked() as conn:  # not the run id: it is the one asked for
            rows = conn.execute(
                "SELECT seq, timestamp, type, step, payload FROM events"
                " WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, -1 if limit is None else limit),
            ).fetchall()
        return [stored_record(run_id, *row) for row in rows]

    def last_seq(self, run_id: str) -> int:
        with self._locked() as conn:
            (seq,) = conn.execute(
                "SELECT MAX(seq) FROM events WHERE run_id = ?", (run_id,)
            ).fetchone()
        return -1 if seq is None else seq

    def latest_step_end(self, pipeline_name: str, step: str) -> EventRecord | None:
        with self._locked() as conn:
            row = conn.execute(_LATEST_STEP_END, (step, pipeline_name)).fetchone()
        return None if row is None else event_from_row(row)

    def add_run(self, run: RunRecord) -> None:
        try:
            with self._locked() as conn:  # one statement: its own transaction
                conn.execute(_INSERT_RUN, run_row(run))
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"run {run.run_id!r} is already stored") from error

    def update_run(
        self, run_id: str, *, expected: Collection[RunStatus] | None = None, **changes: Any
    ) -> bool:
        changes = run_changes(changes)
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
            conn.execute("DELETE FROM run_outputs WHERE run_id = ?", (run_id,))
            deleted = conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount
        return deleted > 0

    def _index_rows_where(self, column: str, values: Collection[str]) -> set[tuple[str, str]]:
        """The (run_id, key) rows of the index whose `column` is one of `values`."""
        found: set[tuple[str, str]] = set()
        values = list(values)
        with self._locked() as conn:
            for start in range(0, len(values), _PARAMETERS):
                chunk = values[start : start + _PARAMETERS]
                found.update(
                    conn.execute(
                        f"SELECT run_id, key FROM run_outputs WHERE {column} IN"
                        f" ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
                )
        return found

    def output_keys(self, run_ids: Collection[str]) -> set[str]:
        return {key for _, key in self._index_rows_where("run_id", run_ids)}

    def referenced_keys(self, keys: Collection[str], excluding: Collection[str] = ()) -> set[str]:
        excluded = set(excluding)
        rows = self._index_rows_where("key", keys)
        return {key for run_id, key in rows if run_id not in excluded}

    def take_lease(self, run_id: str, keys: Iterable[str]) -> AbstractContextManager[None]:
        return self._leases.take(run_id, keys)

    def release_lease(self, run_id: str) -> None:
        self._leases.release(run_id)

    def held_leases(self) -> AbstractContextManager[dict[str, set[str]]]:
        return self._leases.held()

    def stored_leases(self) -> dict[str, set[str]]:
        return self._leases.stored()

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._locked() as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else run_from_row(row)

    def get_runs(
        self, status: RunStatus | Collection[RunStatus] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        where, params = "", list[str | int]()
        if status is not None:
            params = [s.value for s in ([status] if isinstance(status, RunStatus) else status)]
            where = f"WHERE status IN ({', '.join('?' * len(params))})"
        params.append(-1 if limit is None else limit)
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs {where}"
                " ORDER BY create_time DESC, rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [run_from_row(row) for row in rows]

    def recover(self) -> Recovery:
        """Check the database; if it is damaged, move it aside and copy what can be read of
        it into a new one (see sqlite_recovery)."""
        self._db.close()
        return recover_database(
            self.path,
            self,
            run_columns=RUN_COLUMNS,
            decode_run=run_from_row,
            event_columns=EVENT_COLUMNS,
            decode_event=event_from_row,
        )

    def close(self) -> None:
        self._db.close()
