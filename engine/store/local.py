"""The intermediate store in a local directory: one file per output, read memory-mapped
(see `output_files`), with small non-Arrow outputs packed into one SQLite database (see
`packed`).

Files are renamed into place under a lock on their directory, after checking that no valid
output is there, so a valid output is never replaced unless the write says so (a run without
memoization): the new files then take the old ones' names, and a reader that opened the old
data keeps it (its inode) whole; a reader that came between the two renames (old sidecar, new
data) looks again under the lock. A Parquet dataset is written anew each time (see
`datasets`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem

from solidflow.engine.sqlite_files import directory_lock, is_damage
from solidflow.engine.store.backend import StorageBackend
from solidflow.engine.store.datasets import DatasetDirectories, Produce
from solidflow.engine.store.files import (
    Reclaimed,
    fsync_dir,
    owning,
    reclaim_temporary,
    temporary_file,
    write_synced,
)
from solidflow.engine.store.output_files import NO_SIDECAR, OutputFiles, unlink_quietly
from solidflow.engine.store.packed import PENDING_LIMIT, PackedOutputs, assess_row
from solidflow.engine.store.records import (
    Assessment,
    OutputStatus,
    Staged,
    StoredOutput,
    checksums,
    pack_sidecar,
)
from solidflow.engine.store.serialization import Encoded

PACK_LIMIT = 64 * 1024


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


def _is_file_output(encoded: Encoded) -> bool:
    return encoded.payload is None or len(encoded.payload) > PACK_LIMIT


class LocalStore(StorageBackend):
    """Stored outputs under a local directory, shared safely by the processes of a host.

    Packed outputs are buffered per process until `flush`.
    """

    writes_guarded = True
    """Writes never replace or duplicate a valid output unless told to: a flush inserts packed
    rows unless the key is stored (packed or as files), and files are renamed into place only
    after the same check; both hold the packed database's write lock while they check and
    write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.packed = PackedOutputs(self.root)
        self.db_path = self.packed.path
        self.datasets = DatasetDirectories(
            LocalFileSystem(),
            os.path.abspath(self.root),
            directory_lock,
            lambda path: path,
            verify_once=True,
            owning=owning,
        )
        self.files = OutputFiles(self.root, self.datasets)

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    @classmethod
    def from_root(cls, root: str, storage_options: Mapping[str, Any]) -> LocalStore:
        return cls(split_protocol(root)[1])

    def _set_aside(self, error: sqlite3.DatabaseError) -> None:
        """Move the damaged packed database aside; the process that does it says so."""
        aside = self.packed.set_aside()
        if aside is not None:
            self.warn(
                f"the packed outputs database {self.db_path} is damaged ({error}); it was moved "
                f"to {aside}, and the outputs it held will be computed again"
            )

    def _find(
        self,
        key: str,
        row: tuple[bytes, bytes] | None,
        loading: bool = False,
        settle: bool = False,
    ) -> tuple[Assessment, Any]:
        """The best of `key`'s packed `row` and its files, with its data when PRESENT (see
        OutputFiles.open for `loading`; `_open_settled` for `settle`)."""
        if row is None:
            return self._open_settled(key, loading) if settle else self.files.open(key, loading)
        packed = assess_row(key, *row)
        if packed.status is OutputStatus.PRESENT:
            return packed, row[1]
        found, data = self.files.open(key, loading)
        return (packed, None) if found.status is OutputStatus.MISSING else (found, data)

    def _open_settled(self, key: str, loading: bool) -> tuple[Assessment, Any]:
        """`files.open`, and again under the directory lock if the files it found are not a
        PRESENT output: a replacing write renames data, then sidecar, under that lock, and a
        reader that came between the two found the old sidecar with the new data."""
        found = self.files.open(key, loading)
        if found[0].status is OutputStatus.PRESENT or found[0].reason == NO_SIDECAR:
            return found
        try:
            with directory_lock(self.files.paths(key)[0]):
                return self.files.open(key, loading)
        except OSError:  # a store this process may not lock (read-only): what it found
            return found

    def _present(self, key: str) -> StoredOutput | None:
        """The valid output stored under `key`, packed (pending here, or committed) or in
        files. Call with the packed lock held."""
        if key in self.packed.pending:
            return self.packed.pending[key][0]
        return self._find(key, self.packed.rows([key]).get(key))[0].present

    @_recovering
    def assess(self, keys: Sequence[str]) -> dict[str, Assessment]:
        """The assessment of each key, with one database query for the packed ones."""
        with self.packed.locked():
            outputs = self.packed.pending
            pending = {key: outputs[key][0] for key in keys if key in outputs}
            rows = self.packed.rows([key for key in keys if key not in pending])
        result = {}
        for key in keys:
            if key in pending:
                result[key] = Assessment(status=OutputStatus.PRESENT, record=pending[key])
            else:
                result[key] = self._find(key, rows.get(key), settle=True)[0]
        return result

    def uncommitted(self, keys: Iterable[str]) -> list[str]:
        """The keys among `keys` of the outputs this process stored and has not flushed."""
        with self.packed.locked():
            return [key for key in keys if key in self.packed.pending]

    @_recovering
    def committed(self, keys: Sequence[str]) -> set[str]:
        """The keys among `keys` that have a packed row or a sidecar file, not checked."""
        with self.packed.locked():
            found = self.packed.committed(keys)
        return found | self.files.with_sidecar([key for key in keys if key not in found])

    @_recovering
    def load(self, key: str) -> tuple[Assessment, Any]:
        """The assessment of `key` and, when PRESENT, its data (a buffer)."""
        with self.packed.locked():
            if key in self.packed.pending:
                record, _, data = self.packed.pending[key]
                return Assessment(status=OutputStatus.PRESENT, record=record), data
            row = self.packed.rows([key]).get(key)
        return self._find(key, row, loading=True, settle=True)

    @_recovering
    def write(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        replace: bool = False,
    ) -> StoredOutput:
        """Store `encoded` under `key` unless a valid output is stored there already (with
        `replace`, in its place), and return the sidecar: `describe(bytes=, checksum=,
        full_checksum=, location=)`."""
        if _is_file_output(encoded):
            staged = self.files.stage(key, encoded, describe, sync=True, replace=replace)
            return self._publish_file(staged, sync=True)
        record = self._pend(key, encoded, describe, replace)
        if len(self.packed.pending) >= PENDING_LIMIT:
            self._flush()
        return record

    def stage(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        sync: bool,
        replace: bool = False,
    ) -> Staged:
        """Write `encoded` for `key` without committing it: files under temporary names that
        this process holds until `publish` or `discard`, or a packed row kept in memory until
        then; `sync` syncs the files at once."""
        if _is_file_output(encoded):
            return self.files.stage(key, encoded, describe, sync, replace)
        record = self._pend(key, encoded, describe, replace)
        return Staged(key=key, record=record, files=None, replace=replace)

    def _pend(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput], replace: bool
    ) -> StoredOutput:
        data = encoded.payload
        assert data is not None  # a value without a payload is a file output
        payload = bytes(data)  # kept until the flush: not the caller's memory
        checksum, full = checksums(payload)
        location = f"packed:{self.db_path}"
        record = describe(
            bytes=len(payload), checksum=checksum, full_checksum=full, location=location
        )
        with self.packed.locked():
            self.packed.pend(key, record, pack_sidecar(record), payload, replace)
        return record

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs (`sync`: their files are synced first); an output stored
        meanwhile by another process is kept, and this one's files removed, unless this one
        replaces it."""
        for item in staged:
            if item.files is not None:
                self._publish_file(item, sync)
        self.flush()

    def discard(self, staged: Sequence[Staged]) -> None:
        """Remove the files of staged outputs that will not be committed."""
        self.files.release(staged)

    def _publish_file(self, staged: Staged, sync: bool) -> StoredOutput:
        """Move a staged output's files into place, unless a valid output is stored under its
        key and it does not replace it (synced first if `sync`); the sidecar of the output
        stored. A replacing output removes the key's packed row in the same transaction."""
        directory = os.path.dirname(staged.files[3])  # type: ignore[index]
        try:
            if sync:
                self.files.sync(staged)
            with directory_lock(directory), self.packed.stopped():
                if staged.replace:
                    self.packed.forget(staged.key)
                    self.packed.delete(staged.key, dry_run=False)
                else:
                    existing = self._present(staged.key)
                    if existing is not None:
                        return existing
                self.files.move_into_place(staged, sync)
        finally:
            self.files.release([staged])
        self.files.mark_written(staged)
        return staged.record  # type: ignore[return-value]

    @_recovering
    def write_dataset(
        self, key: str, produce: Produce, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        """Store the Parquet dataset `produce` writes as the output under `key` (an earlier
        one stays beside it), and return the sidecar."""
        directory, meta = self.files.paths(key)

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
        with self.packed.locked():
            found = self.packed.records()
        for key, record in self.files.records().items():
            found.setdefault(key, record)
        return list(found.values())

    @_recovering
    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove `key`'s output wherever it is stored (unless `dry_run`); the number of bytes
        freed (or that would be)."""
        with self.packed.locked():
            freed = self.packed.delete(key, dry_run)
        directory = self.files.paths(key)[0]
        if not os.path.isdir(directory):
            return freed
        with directory_lock(directory):
            for path in self.files.all_paths(key):
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

    def _flush(self) -> None:
        """Insert the pending packed outputs; then remove the files of the outputs that rows
        replaced (a row is found before files: they stay only until then)."""
        with self.packed.locked():
            replaced = self.packed.flush(self.files.valid)
        for key in self.files.with_sidecar(replaced):
            directory = self.files.paths(key)[0]
            with directory_lock(directory), self.packed.stopped():
                if self.packed.committed([key]):  # no file output replaced the row since
                    unlink_quietly(self.files.all_paths(key))

    @_recovering
    def flush(self) -> None:
        """Make the pending packed outputs durable."""
        self._flush()

    @_recovering
    def close(self) -> None:
        """Flush, then close the database connection."""
        self._flush()
        self.packed.close()
