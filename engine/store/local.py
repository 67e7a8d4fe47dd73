"""The intermediate store in a local directory: one file per output, read memory-mapped,
with small non-Arrow outputs packed into one SQLite database.

Layout under the root: `<key[:2]>/<key>.arrow` or `.bin` (the data), `<key[:2]>/<key>.meta`
(the sidecar) and `packed.db` (table `outputs(key, sidecar, data)`). Files are written under
a temporary name, synced and renamed, data first; the sidecar is the commit point. Renames
happen under a lock on the directory, after checking that no valid output is there, so a
valid output is never replaced; but a Parquet dataset is written anew each time (see
`datasets`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem

from solidflow.engine.sqlite_files import SharedDatabase, directory_lock, is_damage, transaction
from solidflow.engine.store.backend import StorageBackend
from solidflow.engine.store.datasets import PARQUET, DatasetDirectories, Produce
from solidflow.engine.store.files import (
    TEMPORARY_SUFFIX,
    Reclaimed,
    fsync_dir,
    hold_temporary,
    owning,
    read_whole,
    reclaim_temporary,
    release_temporary,
    temporary_file,
    write_synced,
)
from solidflow.engine.store.records import (
    WHOLE_LIMIT,
    Assessment,
    OutputStatus,
    Staged,
    StoredOutput,
    assess_buffer,
    checksums,
    corrupt,
    full_checksum,
    missing,
    pack_sidecar,
    read_sidecar,
    unpack_sidecar,
)
from solidflow.engine.store.serialization import (
    ARROW,
    BYTEARRAY,
    DATA_SUFFIXES,
    Encoded,
    data_suffix,
)
from solidflow.engine.store.verified import MARKER_SUFFIX, is_verified, mark_verified

PACK_LIMIT = 64 * 1024
PENDING_LIMIT = 500
_QUERY_CHUNK = 10_000
_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, sidecar BLOB NOT NULL,"
    " data BLOB NOT NULL)"
)
_SELECT_ROW = "SELECT sidecar, data FROM outputs WHERE key = ?"
_DELETE_ROW = "DELETE FROM outputs WHERE key = ? RETURNING length(sidecar) + length(data)"
_ROW_SIZE = "SELECT length(sidecar) + length(data) FROM outputs WHERE key = ?"


def _assess_row(key: str, sidecar: bytes, data: bytes) -> Assessment:
    record = read_sidecar(key, sidecar)
    return record if isinstance(record, Assessment) else assess_buffer(record, data)


def _verified_once(path: str, record: StoredOutput, data: pa.Buffer) -> bool:
    """Whether the data file at `path`, which passed the sampled check, matches the sidecar's
    full checksum: checked in full the first time the file is seen, and again whenever it
    changes (see `verified`)."""
    if record.bytes <= WHOLE_LIMIT or is_verified(path, record.full_checksum):
        return True  # the sampled checksum covers all of a small file
    if full_checksum(data) != record.full_checksum:
        return False
    mark_verified(path, record.full_checksum)
    return True


def _recovering(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of LocalStore, run once more on a new packed database if it found the
    database damaged (after setting it aside and saying so)."""

    @functools.wraps(method)
    def recovering(self: LocalStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            if not is_damage(error):
                raise
            self._set_aside(error)
        return method(self, *args, **kwargs)

    return recovering


class LocalStore(StorageBackend):
    """Stored outputs under a local directory, shared safely by the processes of a host.

    Packed outputs are buffered per process until `flush`; each process opens its own
    database connection (again after a fork, dropping the parent's buffered outputs).
    """

    writes_guarded = True
    """Writes never replace or duplicate a valid output: a flush inserts packed rows unless
    the key is stored (packed or as files), and files are renamed into place only after the
    same check; both hold the packed database's write lock while they check and write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.db_path = os.path.join(self.root, "packed.db")
        # Packed outputs not yet flushed: key -> (record, sidecar, data).
        self._pending: dict[str, tuple[StoredOutput, bytes, bytes]] = {}
        self._db = SharedDatabase(
            self.db_path, lambda conn: conn.execute(_CREATE_TABLE), self._drop_parent_pending
        )
        self.datasets = DatasetDirectories(
            LocalFileSystem(),
            os.path.abspath(self.root),
            directory_lock,
            lambda path: path,
            verify_once=True,
            owning=owning,
        )

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    @classmethod
    def from_root(cls, root: str, storage_options: Mapping[str, Any]) -> LocalStore:
        return cls(split_protocol(root)[1])

    def _locked(self) -> threading.Lock:
        """The lock to hold while using the database or the pending outputs."""
        return self._db.lock()

    def _set_aside(self, error: sqlite3.DatabaseError) -> None:
        """Move the damaged packed database aside; the process that does it says so."""
        with self._locked():
            aside = self._db.set_aside()
        if aside is not None:
            self.warn(
                f"the packed outputs database {self.db_path} is damaged ({error}); it was moved "
                f"to {aside}, and the outputs it held will be computed again"
            )

    def _drop_parent_pending(self) -> None:
        """In a forked child: the parent's pending outputs are the parent's to flush."""
        self._pending = {}

    def _existing_db(self) -> sqlite3.Connection | None:
        """The connection to the packed database, None if there is none. Call with the lock held."""
        if not self._db.opened and not os.path.exists(self.db_path):
            return None
        return self._db.connection()

    def _packed_rows(self, keys: Sequence[str]) -> dict[str, tuple[bytes, bytes]]:
        """The stored (sidecar, data) rows of `keys`. Call with the lock held."""
        conn = self._existing_db()
        if conn is None:
            return {}
        if len(keys) == 1:  # a put's check: one lookup, cheaper than the chunked IN query
            row = conn.execute(_SELECT_ROW, keys).fetchone()
            return {} if row is None else {keys[0]: row}
        rows = self._select(conn, "key, sidecar, data", keys)
        return {key: (sidecar, data) for key, sidecar, data in rows}

    @staticmethod
    def _select(conn: sqlite3.Connection, columns: str, keys: Sequence[str]) -> Iterator[Any]:
        """The `columns` of the packed rows of `keys`, in chunks of keys that SQLite accepts."""
        for start in range(0, len(keys), _QUERY_CHUNK):
            chunk = keys[start : start + _QUERY_CHUNK]
            marks = ", ".join("?" * len(chunk))
            yield from conn.execute(f"SELECT {columns} FROM outputs WHERE key IN ({marks})", chunk)

    def _paths(self, key: str) -> tuple[str, str]:
        """The directory of `key`'s files and its sidecar path."""
        directory = os.path.join(self.root, key[:2])
        return directory, os.path.join(directory, f"{key}.meta")

    def _data_path(self, key: str, serializer: str) -> str:
        return os.path.join(self.root, key[:2], f"{key}{data_suffix(serializer)}")

    def _open_file(self, key: str, loading: bool = False) -> tuple[Assessment, Any]:
        """The assessment of `key`'s files and, when PRESENT, its data: memory-mapped, or
        when `loading` a payload that decoding copies anyway, read into memory once."""
        sidecar = self._paths(key)[1]
        if not os.path.exists(sidecar):  # cheaper than failing to open it
            return missing("no sidecar"), None
        try:
            with open(sidecar, "rb") as file:
                record = read_sidecar(key, file.read())
        except FileNotFoundError:
            record = read_sidecar(key, None)
        if isinstance(record, Assessment):
            return record, None
        if record.serializer == PARQUET:
            return self.datasets.load(record)
        path = self._data_path(key, record.serializer)
        try:
            if loading and record.serializer != ARROW:
                data = read_whole(path, mutable=record.python_type == BYTEARRAY)
            else:
                data = pa.memory_map(path).read_buffer()
        except FileNotFoundError:
            return missing("no data file"), None
        found = assess_buffer(record, data)
        if found.present and not _verified_once(path, record, data):
            found = corrupt(record, "full checksum differs from the sidecar's")
        return found, data if found.present else None

    def _find(
        self, key: str, row: tuple[bytes, bytes] | None, loading: bool = False
    ) -> tuple[Assessment, Any]:
        """The best of `key`'s packed `row` and its files, with its data when PRESENT (see
        `_open_file` for `loading`)."""
        if row is None:
            return self._open_file(key, loading)
        packed = _assess_row(key, *row)
        if packed.status is OutputStatus.PRESENT:
            return packed, row[1]
        found, data = self._open_file(key, loading)
        return (packed, None) if found.status is OutputStatus.MISSING else (found, data)

    def _present(self, key: str) -> StoredOutput | None:
        """The valid output stored under `key`, packed (pending here, or committed) or in
        files. Call with the lock held."""
        if key in self._pending:
            return self._pending[key][0]
        return self._find(key, self._packed_rows([key]).get(key))[0].present

    @contextlib.contextmanager
    def _packing_stopped(self) -> Iterator[None]:
        """Hold the lock and a write transaction on the packed database: until the block
        ends, no process commits packed outputs (their flushes wait)."""
        with self._locked(), transaction(self._db.connection()):
            yield

    @_recovering
    def assess(self, keys: Sequence[str]) -> dict[str, Assessment]:
        """The assessment of each key, with one database query for the packed ones."""
        with self._locked():
            pending = {key: self._pending[key][0] for key in keys if key in self._pending}
            rows = self._packed_rows([key for key in keys if key not in pending])
        result = {}
        for key in keys:
            present = Assessment(status=OutputStatus.PRESENT, record=pending.get(key))
            result[key] = present if key in pending else self._find(key, rows.get(key))[0]
        return result

    def uncommitted(self, keys: Iterable[str]) -> list[str]:
        """The keys among `keys` of the outputs this process stored and has not flushed."""
        with self._locked():
            return [key for key in keys if key in self._pending]

    @_recovering
    def committed(self, keys: Sequence[str]) -> set[str]:
        """The keys among `keys` that have a packed row or a sidecar file, not checked."""
        with self._locked():
            conn = self._existing_db()
            found = set() if conn is None else {key for (key,) in self._select(conn, "key", keys)}
        return found | self._with_sidecar_files([key for key in keys if key not in found])

    def _with_sidecar_files(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` that have a sidecar file (each directory is looked at once)."""
        keys = list(keys)
        directories = {key[:2] for key in keys}
        existing = {name for name in directories if os.path.isdir(os.path.join(self.root, name))}
        return {key for key in keys if key[:2] in existing and os.path.exists(self._paths(key)[1])}

    @_recovering
    def load(self, key: str) -> tuple[Assessment, Any]:
        """The assessment of `key` and, when PRESENT, its data (a buffer)."""
        with self._locked():
            if key in self._pending:
                record, _, data = self._pending[key]
                return Assessment(status=OutputStatus.PRESENT, record=record), data
            row = self._packed_rows([key]).get(key)
        return self._find(key, row, loading=True)

    @_recovering
    def write(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        """Store `encoded` under `key` unless a valid output is stored there already, and
        return the sidecar: `describe(bytes=, checksum=, full_checksum=, location=)`."""
        if encoded.payload is None or len(encoded.payload) > PACK_LIMIT:
            return self._write_file(key, encoded, describe)
        payload = bytes(encoded.payload)  # kept until the flush: not the caller's memory
        checksum, full = checksums(payload)
        location = f"packed:{self.db_path}"
        record = describe(
            bytes=len(payload), checksum=checksum, full_checksum=full, location=location
        )
        sidecar = pack_sidecar(record)
        with self._locked():
            self._pending[key] = (record, sidecar, payload)
            if len(self._pending) >= PENDING_LIMIT:
                self._flush_pending()
        return record

    def _write_file(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        return self._publish_file(self._stage_file(key, encoded, describe, sync=True), sync=True)

    def stage(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput], sync: bool
    ) -> Staged:
        """Write `encoded` for `key` without committing it: files under temporary names that
        this process holds until `publish` or `discard`, or a packed row kept in memory until
        then; `sync` syncs the files at once."""
        if encoded.payload is None or len(encoded.payload) > PACK_LIMIT:
            return self._stage_file(key, encoded, describe, sync)
        return Staged(key=key, record=self._pend(key, encoded, describe), files=None)

    def _pend(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        payload = bytes(encoded.payload)  # kept until the flush: not the caller's memory
        checksum, full = checksums(payload)
        location = f"packed:{self.db_path}"
        record = describe(
            bytes=len(payload), checksum=checksum, full_checksum=full, location=location
        )
        with self._locked():
            self._pending[key] = (record, pack_sidecar(record), payload)
        return record

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs (`sync`: their files are synced first); an output stored
        meanwhile by another process is kept, and this one's files removed."""
        for item in staged:
            if item.files is not None:
                self._publish_file(item, sync)
        self.flush()

    def discard(self, staged: Sequence[Staged]) -> None:
        """Remove the files of staged outputs that will not be committed."""
        for item in staged:
            if item.files is not None and item.fds is not None:
                for fd, path in zip(item.fds, item.files[:2], strict=True):
                    release_temporary(fd, path)

    def _stage_file(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput], sync: bool
    ) -> Staged:
        directory, meta = self._paths(key)
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
            fsync_dir(self.root)
        final = self._data_path(key, encoded.serializer)
        token = secrets.token_hex(8)
        data_tmp = os.path.join(directory, f".{key}.{token}.data{TEMPORARY_SUFFIX}")
        meta_tmp = os.path.join(directory, f".{key}.{token}.meta{TEMPORARY_SUFFIX}")
        data_fd = hold_temporary(data_tmp)
        try:
            meta_fd = hold_temporary(meta_tmp)
        except BaseException:
            release_temporary(data_fd, data_tmp)
            raise
        staged = Staged(
            key=key, record=None, files=(data_tmp, meta_tmp, final, meta), fds=(data_fd, meta_fd)
        )
        try:
            size = encoded.size()
            checksum, full = write_synced(data_fd, size, encoded.write_to, sync)
            record = describe(bytes=size, checksum=checksum, full_checksum=full, location=final)
            sidecar = pack_sidecar(record)
            write_synced(meta_fd, len(sidecar), lambda sink: sink.write(sidecar), sync)
        except BaseException:
            self.discard([staged])
            raise
        return dataclasses.replace(staged, record=record)

    def _publish_file(self, staged: Staged, sync: bool) -> StoredOutput:
        """Rename a staged output's files into place, unless a valid output is stored under
        its key (synced first if `sync`); the sidecar of the output stored."""
        data_tmp, meta_tmp, final, meta = staged.files  # type: ignore[misc]
        record: StoredOutput = staged.record  # type: ignore[assignment]
        directory = os.path.dirname(meta)
        try:
            if sync:
                for fd in staged.fds or ():
                    os.fsync(fd)
            with directory_lock(directory), self._packing_stopped():
                existing = self._present(staged.key)
                if existing is not None:
                    return existing
                os.replace(data_tmp, final)
                os.replace(meta_tmp, meta)
                if sync:
                    fsync_dir(directory)
        finally:
            self.discard([staged])
        if record.bytes > WHOLE_LIMIT:  # the data was hashed as it was written
            mark_verified(final, record.full_checksum)
        return record

    @_recovering
    def write_dataset(
        self, key: str, produce: Produce, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        """Store the Parquet dataset `produce` writes as the output under `key` (an earlier
        one stays beside it), and return the sidecar."""
        directory, meta = self._paths(key)

        def write_sidecar(sidecar: bytes) -> None:
            meta_tmp = os.path.join(directory, f".{key}.{secrets.token_hex(8)}.meta.tmp")
            with temporary_file(meta_tmp) as fd:  # removed if the write or the rename fails
                write_synced(fd, len(sidecar), lambda sink: sink.write(sidecar))
                os.replace(meta_tmp, meta)
            fsync_dir(directory)

        return self.datasets.write(key, produce, describe, write_sidecar)

    @_recovering
    def records(self) -> list[StoredOutput]:
        """The sidecars of all stored outputs, not checked."""
        with self._locked():
            found = {key: record for key, (record, _, _) in self._pending.items()}
            conn = self._existing_db()
            rows = [] if conn is None else conn.execute("SELECT key, sidecar FROM outputs")
            for key, sidecar in rows:
                with contextlib.suppress(ValueError):
                    found.setdefault(key, unpack_sidecar(sidecar, key))
        for meta in glob.glob(os.path.join(glob.escape(self.root), "??", "*.meta")):
            key = os.path.basename(meta).removesuffix(".meta")
            with contextlib.suppress(FileNotFoundError, ValueError), open(meta, "rb") as file:
                found.setdefault(key, unpack_sidecar(file.read(), key))
        return list(found.values())

    @_recovering
    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove `key`'s output wherever it is stored (unless `dry_run`); the number of bytes
        freed (or that would be)."""
        freed = 0
        with self._locked():
            pending = self._pending.get(key) if dry_run else self._pending.pop(key, None)
            freed += 0 if pending is None else len(pending[2])
            conn = self._existing_db()
            if conn is not None:
                query = _ROW_SIZE if dry_run else _DELETE_ROW
                freed += sum(size for (size,) in conn.execute(query, (key,)))
        directory, meta = self._paths(key)
        if not os.path.isdir(directory):
            return freed
        suffixes = (*DATA_SUFFIXES, MARKER_SUFFIX)
        data = (os.path.join(directory, f"{key}{suffix}") for suffix in suffixes)
        with directory_lock(directory):
            for path in (meta, *data):
                with contextlib.suppress(FileNotFoundError):
                    size = os.stat(path).st_size
                    if not dry_run:
                        os.unlink(path)
                    freed += size
            freed += self.datasets.delete(key, dry_run)
        return freed

    def reclaim(self, before: float, dry_run: bool) -> list[Reclaimed]:
        """Remove the temporary files of killed writes that last changed before `before`."""
        if not os.path.isdir(self.root):
            return []
        return reclaim_temporary(self.root, before, dry_run)

    def _flush_pending(self) -> None:
        """Insert the pending packed outputs in one transaction. Call with the lock held."""
        if not self._pending:
            return
        conn = self._db.connection()
        with transaction(conn):  # file writers check for packed rows under the same lock
            in_files = {  # stored meanwhile, as files, by a process that looked first
                key
                for key in self._with_sidecar_files(self._pending)
                if self._open_file(key)[0].present
            }
            rows = [
                (key, sidecar, data)
                for key, (_, sidecar, data) in self._pending.items()
                if key not in in_files
            ]
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO outputs (key, sidecar, data) VALUES (?, ?, ?)", rows
            )
            if conn.total_changes - before < len(rows):
                # Some keys were stored already: replace those stored rows that are not valid.
                stored = self._packed_rows([key for key, _, _ in rows])
                conn.executemany(
                    "UPDATE outputs SET sidecar = ?, data = ? WHERE key = ?",
                    [
                        (sidecar, data, key)
                        for key, sidecar, data in rows
                        if key in stored and not _assess_row(key, *stored[key]).present
                    ],
                )
        self._pending.clear()

    @_recovering
    def flush(self) -> None:
        """Make the pending packed outputs durable."""
        with self._locked():
            self._flush_pending()

    @_recovering
    def close(self) -> None:
        """Flush, then close the database connection."""
        with self._locked():
            self._flush_pending()
        self._db.close()
