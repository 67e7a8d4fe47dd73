"""Small outputs of a local store packed into one SQLite database, `packed.db` (table
`outputs(key, sidecar, data)`), and buffered per process until a flush inserts them in one
transaction."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from solidflow.engine.sqlite_files import SharedDatabase, transaction
from solidflow.engine.store.records import (
    Assessment,
    StoredOutput,
    assess_buffer,
    read_sidecar,
    unpack_sidecar,
)

PENDING_LIMIT = 500
_QUERY_CHUNK = 10_000
_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, sidecar BLOB NOT NULL,"
    " data BLOB NOT NULL)"
)
_SELECT_ROW = "SELECT sidecar, data FROM outputs WHERE key = ?"
_DELETE_ROW = "DELETE FROM outputs WHERE key = ? RETURNING length(sidecar) + length(data)"
_ROW_SIZE = "SELECT length(sidecar) + length(data) FROM outputs WHERE key = ?"
_INSERT = "INSERT OR IGNORE INTO outputs (key, sidecar, data) VALUES (?, ?, ?)"
_REPLACE = "INSERT OR REPLACE INTO outputs (key, sidecar, data) VALUES (?, ?, ?)"


def assess_row(key: str, sidecar: bytes, data: bytes) -> Assessment:
    """The assessment of a packed row."""
    record = read_sidecar(key, sidecar)
    return record if isinstance(record, Assessment) else assess_buffer(record, data)


class PackedOutputs:
    """The packed database of a local store and this process's outputs not yet flushed into
    it. Each process opens its own connection (again after a fork, dropping the parent's
    pending outputs). Hold `locked()` while calling the methods that say so."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "packed.db")
        # Outputs not yet flushed: key -> (record, sidecar, data); and those of them that
        # replace what is stored under their key.
        self.pending: dict[str, tuple[StoredOutput, bytes, bytes]] = {}
        self._replacing: set[str] = set()
        self._db = SharedDatabase(
            self.path, lambda conn: conn.execute(_CREATE_TABLE), self._drop_parent_pending
        )

    def locked(self) -> threading.Lock:
        """The lock to hold while using the database or the pending outputs."""
        return self._db.lock()

    def _drop_parent_pending(self) -> None:
        """In a forked child: the parent's pending outputs are the parent's to flush."""
        self.pending = {}
        self._replacing = set()

    def set_aside(self) -> str | None:
        """Move the damaged database aside; where it went, None if another process did."""
        with self.locked():
            return self._db.set_aside()

    def existing(self) -> sqlite3.Connection | None:
        """The connection to the database, None if there is none. Call with the lock held."""
        if not self._db.opened and not os.path.exists(self.path):
            return None
        return self._db.connection()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and a write transaction: until the block ends, no process commits
        packed outputs (their flushes wait)."""
        with self.locked(), transaction(self._db.connection()) as conn:
            yield conn

    def rows(self, keys: Sequence[str]) -> dict[str, tuple[bytes, bytes]]:
        """The stored (sidecar, data) rows of `keys`. Call with the lock held."""
        conn = self.existing()
        if conn is None:
            return {}
        if len(keys) == 1:  # a put's check: one lookup, cheaper than the chunked IN query
            row = conn.execute(_SELECT_ROW, keys).fetchone()
            return {} if row is None else {keys[0]: row}
        rows = self.select(conn, "key, sidecar, data", keys)
        return {key: (sidecar, data) for key, sidecar, data in rows}

    @staticmethod
    def select(conn: sqlite3.Connection, columns: str, keys: Sequence[str]) -> Iterator[Any]:
        """The `columns` of the rows of `keys`, in chunks of keys that SQLite accepts."""
        for start in range(0, len(keys), _QUERY_CHUNK):
            chunk = keys[start : start + _QUERY_CHUNK]
            marks = ", ".join("?" * len(chunk))
            yield from conn.execute(f"SELECT {columns} FROM outputs WHERE key IN ({marks})", chunk)

    def committed(self, keys: Sequence[str]) -> set[str]:
        """The keys among `keys` that have a row, not checked. Call with the lock held."""
        conn = self.existing()
        return set() if conn is None else {key for (key,) in self.select(conn, "key", keys)}

    def pend(
        self, key: str, record: StoredOutput, sidecar: bytes, data: bytes, replace: bool
    ) -> None:
        """Keep an output until the flush; with `replace` it then replaces what is stored under
        its key. Call with the lock held."""
        self.pending[key] = (record, sidecar, data)
        if replace:
            self._replacing.add(key)
        else:
            self._replacing.discard(key)

    def forget(self, key: str) -> None:
        """Drop a pending output of `key` (a file output replaced it). Call with the lock held."""
        self.pending.pop(key, None)
        self._replacing.discard(key)

    def flush(self, in_files: Callable[[Iterable[str]], set[str]]) -> list[str]:
        """Insert the pending outputs in one transaction, except those whose key has a valid
        output in files (`in_files(keys)`, stored meanwhile by a process that looked first)
        unless they replace it; the keys whose files the rows replaced. Call with the lock
        held."""
        if not self.pending:
            return []
        conn = self._db.connection()
        replacing = [key for key in self.pending if key in self._replacing]
        with transaction(conn):  # file writers check for packed rows under the same lock
            kept = in_files(key for key in self.pending if key not in self._replacing)
            rows = [
                (key, sidecar, data)
                for key, (_, sidecar, data) in self.pending.items()
                if key not in kept and key not in self._replacing
            ]
            before = conn.total_changes
            conn.executemany(_INSERT, rows)
            if conn.total_changes - before < len(rows):
                # Some keys were stored already: replace those stored rows that are not valid.
                stored = self.rows([key for key, _, _ in rows])
                conn.executemany(
                    "UPDATE outputs SET sidecar = ?, data = ? WHERE key = ?",
                    [
                        (sidecar, data, key)
                        for key, sidecar, data in rows
                        if key in stored and not assess_row(key, *stored[key]).present
                    ],
                )
            conn.executemany(_REPLACE, [(key, *self.pending[key][1:]) for key in replacing])
        self.pending.clear()
        self._replacing.clear()
        return replacing

    def records(self) -> dict[str, StoredOutput]:
        """The sidecars of the pending and stored outputs, by key. Call with the lock held."""
        found = {key: record for key, (record, _, _) in self.pending.items()}
        conn = self.existing()
        rows = [] if conn is None else conn.execute("SELECT key, sidecar FROM outputs")
        for key, sidecar in rows:
            with contextlib.suppress(ValueError):
                found.setdefault(key, unpack_sidecar(sidecar, key))
        return found

    def delete(self, key: str, dry_run: bool) -> int:
        """Remove `key`'s pending output and row (unless `dry_run`); the bytes freed (or that
        would be). Call with the lock held."""
        pending = self.pending.get(key) if dry_run else self.pending.pop(key, None)
        freed = 0 if pending is None else len(pending[2])
        conn = self.existing()
        if conn is not None:
            freed += sum(
                size for (size,) in conn.execute(_ROW_SIZE if dry_run else _DELETE_ROW, (key,))
            )
        return freed

    def close(self) -> None:
        self._db.close()
