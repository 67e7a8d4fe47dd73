"""Runs, events, schedules, step claims and leases in a PostgreSQL database that several hosts
share."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgpack
import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from solidflow.definitions.config import Config
from solidflow.engine.events.records import EventRecord
from solidflow.engine.events.store_keys import KEYED_EVENT_TYPES, index_rows
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
from solidflow.engine.instance.storage import (
    DuplicateRecordError,
    InstanceStorage,
    MigrationReport,
    SchemaVersionError,
    StorageUnavailableError,
    run_changes,
)
from solidflow.integrations.postgres.notifications import CHANNEL, EventNotifications
from solidflow.integrations.postgres.schedules import PostgresSchedules, PostgresStepClaims
from solidflow.integrations.postgres.schema import (
    BACKFILLED,
    MIGRATIONS,
    SCHEMA_VERSION,
    VERSION_TABLE,
)
from solidflow.integrations.postgres.settings import PostgresSettings

_SCHEMA_LOCK = 0x50F1DF10
"""The advisory lock a migration (or the creation of the schema) holds."""
_LEASES_LOCK = 0x50F1DF11
"""The advisory lock runs hold shared while they take a lease, and gc exclusive."""
_KEYED_TYPES = sorted(kind.value for kind in KEYED_EVENT_TYPES)
_CONNECT_TIMEOUT = 10
_COPY_EVENTS = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_EVENT_TYPES = ["text", "int4", "float8", "text", "text", "bytea"]
_INSERT_INDEX = "INSERT INTO run_outputs (run_id, key) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_LATEST_STEP_END = latest_step_end_query("%s")
_NOTIFY = "SELECT pg_notify(%s, run_id) FROM unnest(%s::text[]) AS run_id"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStorage(PostgresSchedules, PostgresStepClaims, InstanceStorage):
    """Events, runs and leases in a PostgreSQL database, through a pool of connections per
    process (a new one after a fork). Writers notify the runs they change (LISTEN/NOTIFY),
    so that watches wake at once without polling.

    Args:
        url: postgresql://user:password@host:port/database.
        pool_size: the most connections this process opens at once.
    """

    config_schema = PostgresSettings
    notifies = True
    ingest_batch = 10_000  # a write waits for a round trip and a commit: fewer, larger ones

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.location = _without_password(url)
        self._pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._notifications: EventNotifications | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, home: Path) -> PostgresStorage:
        assert isinstance(config, PostgresSettings)
        return cls(config.url, pool_size=config.pool_size)

    def __repr__(self) -> str:
        return f"PostgresStorage({self.location!r})"

    # connections

    def _connect(self, **options: Any) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, connect_timeout=_CONNECT_TIMEOUT, **options)
        except psycopg.OperationalError as error:
            problem = str(error).strip().splitlines()[-1]
            raise StorageUnavailableError(
                f"cannot connect to the event log at {self.location}: {problem}"
            ) from None

    def _get_pool(self) -> ConnectionPool:
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
            self._pool, self._notifications, self._pid = None, None, os.getpid()
            self._lock = threading.Lock()
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    with self._connect(autocommit=True) as conn:
                        self._open_schema(conn)
                    pool = ConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=self._pool_size,
                        kwargs={"connect_timeout": _CONNECT_TIMEOUT},
                        open=False,
                    )
                    pool.open(wait=True, timeout=_CONNECT_TIMEOUT * 2)
                    self._pool = pool
        return self._pool

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction, committed when the block ends."""
        with self._get_pool().connection() as conn:
            yield conn

    # schema

    def _version(self, conn: psycopg.Connection[Any]) -> int | None:
        """The schema version, None for a database without solidflow's tables."""
        (table,) = conn.execute("SELECT to_regclass('solidflow_schema')").fetchone()  # type: ignore[misc]
        if table is None:
            return None
        row = conn.execute("SELECT version FROM solidflow_schema").fetchone()
        return None if row is None else row[0]

    def _set_version(self, conn: psycopg.Connection[Any], version: int) -> None:
        conn.execute("DELETE FROM solidflow_schema")
        conn.execute("INSERT INTO solidflow_schema (version) VALUES (%s)", (version,))

    def _open_schema(self, conn: psycopg.Connection[Any]) -> None:
        """Check the schema version; create the schema in a new database.

        Raises:
            SchemaVersionError: the schema is older or newer than this solidflow's.
        """
        version = self._version(conn)
        if version is None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(VERSION_TABLE)
                if self._version(conn) is None:  # nobody created it meanwhile
                    for statements in MIGRATIONS:
                        for statement in statements:
                            conn.execute(statement)
                    self._set_version(conn, SCHEMA_VERSION)
            version = SCHEMA_VERSION
        check_version(version, SCHEMA_VERSION, self.location)
        if version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.location} has schema version {version}; this solidflow needs "
                f"{SCHEMA_VERSION}: run `solidflow instance migrate` (after upgrading "
                "solidflow on every host that uses it)"
            )

    def migrate(self, progress: Callable[[str], object] = print) -> MigrationReport:
        """Apply the migrations the schema lacks, one at a time; a new table derived from
        the events is filled in batches of about 0.2 s, each of which holds writers back
        (a SHARE lock on the events) while it reads."""
        with self._connect(autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(VERSION_TABLE)
            found = self._version(conn) or 0
            check_version(found, SCHEMA_VERSION, self.location)
            filled = Backfilled()
            for version in range(found, SCHEMA_VERSION):
                with conn.transaction():
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    if version not in BACKFILLED:
                        self._set_version(conn, version + 1)
                if version in BACKFILLED:
                    (until,) = conn.execute(  # type: ignore[misc]
                        "SELECT COALESCE(MAX(id), 0) FROM events"
                    ).fetchone()
                    filled = backfill(functools.partial(self._index_events, conn, until=until))
                    with conn.transaction():
                        self._index_events(conn, filled.last_id, None)
                        self._set_version(conn, version + 1)
                progress(f"{self.location}: schema version {version + 1}")
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))
        if found == SCHEMA_VERSION:
            progress(f"{self.location}: schema version {found}")
        return MigrationReport(
            location=self.location,
            from_version=found,
            to_version=SCHEMA_VERSION,
            batches=filled.batches,
            rows=filled.rows,
            longest_batch=filled.longest,
        )

    def _index_events(
        self,
        conn: psycopg.Connection[Any],
        after: int,
        limit: int | None,
        until: int | None = None,
    ) -> tuple[int, int]:
        """Index the output keys named by up to `limit` (None: all) events with id > `after`
        (and <= `until`, if given), in one transaction that keeps writers of events out: an
        insert in flight when it starts has committed, so no id below those read can appear
        later."""
        with conn.transaction():
            conn.execute("LOCK TABLE events IN SHARE MODE")
            rows = conn.execute(
                f"SELECT id, {EVENT_COLUMNS} FROM events WHERE id > %s"
                " AND (%s::bigint IS NULL OR id <= %s) AND type = ANY(%s) ORDER BY id LIMIT %s",
                (after, until, until, _KEYED_TYPES, limit),
            ).fetchall()
            self._index(conn, [event_from_row(row[1:]) for row in rows])
        return (rows[-1][0] if rows else after), len(rows)

    @staticmethod
    def _index(conn: psycopg.Connection[Any], records: list[EventRecord]) -> None:
        rows = index_rows(records)
        if rows:
            conn.cursor().executemany(_INSERT_INDEX, rows)

    # events

    def store_events(self, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        try:
            with self._transaction() as conn:
                with conn.cursor().copy(_COPY_EVENTS) as copy:
                    copy.set_types(_EVENT_TYPES)
                    for record in records:
                        copy.write_row(event_row(record))
                self._index(conn, list(records))
                conn.execute(_NOTIFY, (CHANNEL, sorted({record.run_id for record in records})))
        except errors.UniqueViolation as error:
            raise DuplicateRecordError(f"events not stored: {error}") from None

    def get_events(
        self, run_id: str, after: int = -1, limit: int | None = None
    ) -> list[EventRecord]:
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (run_id, after, limit),
            ).fetchall()
        return [event_from_row(row) for row in rows]

    def last_seq(self, run_id: str) -> int:
        with self._transaction() as conn:
            (seq,) = conn.execute(  # type: ignore[misc]
                "SELECT MAX(seq) FROM events WHERE run_id = %s", (run_id,)
            ).fetchone()
        return -1 if seq is None else seq

    def wait_for_events(self, run_id: str, after: int, timeout: float) -> None:
        """Return once run `run_id` has events with seq > `after`, a writer changed it, or
        after `timeout` seconds; a listening connection hears of every change."""
        with self._lock:
            if self._notifications is None or self._pid != os.getpid():
                self._notifications = EventNotifications(self.url)
            notifications = self._notifications
        notifications.wait(run_id, lambda: self.last_seq(run_id) > after, timeout)

    def latest_step_end(self, pipeline_name: str, step: str) -> EventRecord | None:
        with self._transaction() as conn:
            row = conn.execute(_LATEST_STEP_END, (step, pipeline_name)).fetchone()
        return None if row is None else event_from_row(row)

    # runs

    def add_run(self, run: RunRecord) -> None:
        placeholders = ", ".join(["%s"] * len(RUN_FIELDS))
        try:
            with self._transaction() as conn:
                conn.execute(
                    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({placeholders})", run_row(run)
                )
        except errors.UniqueViolation:
            raise DuplicateRecordError(f"run {run.run_id!r} is already stored") from None

    def update_run(
        self, run_id: str, *, expected: Collection[RunStatus] | None = None, **changes: Any
    ) -> bool:
        changes = run_changes(changes)
        assignments = ", ".join(f"{name} = %s" for name in changes)
        where, params = "run_id = %s", [*changes.values(), run_id]
        if expected is not None:
            where += " AND status = ANY(%s)"
            params.append([RunStatus(status).value for status in expected])
        with self._transaction() as conn:
            changed = conn.execute(f"UPDATE runs SET {assignments} WHERE {where}", params).rowcount
            if changed:
                conn.execute(_NOTIFY, (CHANNEL, [run_id]))
        if not changed and self.get_run(run_id) is None:
            raise KeyError(run_id)
        return changed > 0

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._transaction() as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,)
            ).fetchone()
        return None if row is None else run_from_row(row)

    def get_runs(
        self, status: RunStatus | Collection[RunStatus] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        where, params = "", []
        if status is not None:
            statuses = [status] if isinstance(status, RunStatus) else status
            where, params = "WHERE status = ANY(%s)", [[s.value for s in statuses]]
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs {where}"
                " ORDER BY create_time DESC, number DESC LIMIT %s",
                [*params, limit],
            ).fetchall()
        return [run_from_row(row) for row in rows]

    def delete_run(self, run_id: str) -> bool:
        with self._transaction() as conn:
            conn.execute("DELETE FROM events WHERE run_id = %s", (run_id,))
            conn.execute("DELETE FROM run_outputs WHERE run_id = %s", (run_id,))
            deleted = conn.execute("DELETE FROM runs WHERE run_id = %s", (run_id,)).rowcount
        return deleted > 0

    def output_keys(self, run_ids: Collection[str]) -> set[str]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT DISTINCT key FROM run_outputs WHERE run_id = ANY(%s)", (list(run_ids),)
            ).fetchall()
        return {key for (key,) in rows}

    def referenced_keys(self, keys: Collection[str], excluding: Collection[str] = ()) -> set[str]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT DISTINCT key FROM run_outputs WHERE key = ANY(%s)"
                " AND NOT (run_id = ANY(%s))",
                (list(keys), list(excluding)),
            ).fetchall()
        return {key for (key,) in rows}

    # leases

    @contextlib.contextmanager
    def take_lease(self, run_id: str, keys: Iterable[str]) -> Iterator[None]:
        packed = msgpack.packb(sorted(set(keys)))
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_LEASES_LOCK,))
            conn.execute(
                "INSERT INTO leases (run_id, keys) VALUES (%s, %s)"
                " ON CONFLICT (run_id) DO UPDATE SET keys = EXCLUDED.keys",
                (run_id, packed),
            )
            conn.commit()  # the lease is stored; the lock is taken again for the block
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_LEASES_LOCK,))
            yield

    def release_lease(self, run_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM leases WHERE run_id = %s", (run_id,))

    @contextlib.contextmanager
    def held_leases(self) -> Iterator[dict[str, set[str]]]:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LEASES_LOCK,))
            yield self._leases(conn)

    def stored_leases(self) -> dict[str, set[str]]:
        with self._transaction() as conn:
            return self._leases(conn)

    @staticmethod
    def _leases(conn: psycopg.Connection[Any]) -> dict[str, set[str]]:
        rows = conn.execute("SELECT run_id, keys FROM leases").fetchall()
        return {run_id: set(msgpack.unpackb(keys)) for run_id, keys in rows}

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            notifications, self._notifications = self._notifications, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
        if notifications is not None:
            notifications.close()
