"""The intermediate store on any fsspec filesystem (object stores, memory://, ...).

Layout as in the local store, without the packed database: every output is a data file
`<key[:2]>/<key>.arrow` or `.bin` and a sidecar `<key[:2]>/<key>.meta`. Files are written
under a temporary name and moved into place where the filesystem can move files, else written
in place; the sidecar always comes last. A writer checks just before committing that no valid
output is stored (unless it replaces it), but without a lock two writers of one key may
interleave: a reader can then briefly see CORRUPT (and recompute), never a PRESENT output
whose data fails its sidecar. A replacing write moves its data, then its sidecar, over the
stored ones, so that readers meet the same brief window.
"""

from __future__ import annotations

import contextlib
import datetime
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from solidflow.engine.store.backend import StorageBackend
from solidflow.engine.store.datasets import PARQUET, DatasetDirectories, Produce
from solidflow.engine.store.files import TEMPORARY_SUFFIX, Reclaimed
from solidflow.engine.store.records import (
    WHOLE_LIMIT,
    Assessment,
    HashingSink,
    Staged,
    StoredOutput,
    assess,
    assess_buffer,
    corrupt,
    full_checksum,
    missing,
    pack_sidecar,
    read_sidecar,
    unpack_sidecar,
)
from solidflow.engine.store.serialization import DATA_SUFFIXES, Encoded, data_suffix
from solidflow.engine.store.shared import SharedObjects

_TIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created")


def modified_time(info: dict[str, Any]) -> float | None:
    """Seconds since the epoch when the file or directory described by `info` last changed,
    in the fields fsspec filesystems use; None if it gives none."""
    for field in _TIME_FIELDS:
        value = info.get(field)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
    return None


def _can_move(fs: AbstractFileSystem) -> bool:
    """Whether `fs` implements moving or copying files (the generic `mv` copies)."""
    kind = type(fs)
    return kind.mv is not AbstractFileSystem.mv or kind.cp_file is not AbstractFileSystem.cp_file


class FsspecStore(StorageBackend):
    """Stored outputs under an fsspec URL; reads go through `fs.open`, without memory mapping."""

    writes_guarded = False
    """Without locks between writers, `put` always looks for a stored output first."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.fs, root = url_to_fs(url, **(storage_options or {}))
        self.root = root.rstrip("/")
        self._moves = _can_move(self.fs)
        self.datasets = DatasetDirectories(
            self.fs, self.root, contextlib.nullcontext, self.fs.unstrip_protocol
        )

    def __repr__(self) -> str:
        return f"FsspecStore({self.fs.unstrip_protocol(self.root)!r})"

    def _paths(self, key: str) -> tuple[str, str]:
        """The directory of `key`'s files and its sidecar path."""
        directory = f"{self.root}/{key[:2]}"
        return directory, f"{directory}/{key}.meta"

    def _data_path(self, key: str, serializer: str) -> str:
        return f"{self.root}/{key[:2]}/{key}{data_suffix(serializer)}"

    def _data_of(self, record: StoredOutput) -> str:
        """The path of the data that the sidecar `record` describes."""
        return self._data_path(record.key, record.serializer)

    def _assess(self, key: str, sidecar: bytes | None) -> Assessment:
        """The assessment of `key`'s files, reading only the sampled ranges of the data."""
        record = read_sidecar(key, sidecar)
        if isinstance(record, Assessment):
            return record
        if record.serializer == PARQUET:
            return self.datasets.assess(record)
        return self._assess_data(record)

    def _assess_data(self, record: StoredOutput) -> Assessment:
        """The assessment of the data file of `record`, reading its sampled ranges."""
        try:
            file = self.fs.open(self._data_of(record), "rb")
        except FileNotFoundError:
            return missing("no data file")
        with file:

            def read(offset: int, length: int) -> bytes:
                file.seek(offset)
                data: bytes = file.read(length)
                return data

            return assess(record, file.size, read, file)

    def _read_sidecar(self, key: str) -> bytes | None:
        try:
            sidecar: bytes = self.fs.cat_file(self._paths(key)[1])
        except FileNotFoundError:
            return None
        return sidecar

    def assess(self, keys: Sequence[str]) -> dict[str, Assessment]:
        """The assessment of each key; the sidecars are fetched in one batch."""
        paths = [self._paths(key)[1] for key in keys]
        sidecars = self.fs.cat(paths, on_error="omit") if paths else {}
        return {
            key: self._assess(key, sidecars.get(path))
            for key, path in zip(keys, paths, strict=True)
        }

    def uncommitted(self, keys: Iterable[str]) -> list[str]:
        """None: outputs are written at once."""
        return []

    def committed(self, keys: Sequence[str]) -> set[str]:
        """The keys among `keys` with a valid output."""
        return {key for key, found in self.assess(keys).items() if found.present is not None}

    def load(self, key: str) -> tuple[Assessment, Any]:
        """The assessment of `key` and, when PRESENT, its data (bytes)."""
        record = read_sidecar(key, self._read_sidecar(key))
        if isinstance(record, Assessment):
            return record, None
        if record.serializer == PARQUET:
            return self.datasets.load(record)
        try:
            data = self.fs.cat_file(self._data_of(record))
        except FileNotFoundError:
            return missing("no data file"), None
        found = assess_buffer(record, data)
        # Read whole, the data is checked whole (small outputs are, by the sampled checksum).
        large = found.present and record.bytes > WHOLE_LIMIT
        if large and full_checksum(data) != record.full_checksum:
            # Its sampled ranges are intact, so `assess` would keep finding it PRESENT.
            self.delete(key)
            reason = "full checksum differs from the sidecar's; the damaged output was deleted"
            found = corrupt(record, reason)
        return found, data if found.present else None

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
        staged = self.stage(key, encoded, describe, sync=True, replace=replace)
        return self._publish_one(staged)

    def stage(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        sync: bool,
        replace: bool = False,
    ) -> Staged:
        """Write the data of `key` (under a temporary name where the filesystem moves files)
        and its sidecar under a temporary name, or keep the sidecar for `publish`: the
        output is not visible until then. `sync` means nothing here."""
        directory, meta = self._paths(key)
        final = self._data_path(key, encoded.serializer)
        self.fs.makedirs(directory, exist_ok=True)
        token = secrets.token_hex(8)
        data_tmp = f"{directory}/.{key}.{token}.data.tmp" if self._moves else final
        meta_tmp = f"{directory}/.{key}.{token}.meta.tmp"
        try:
            size = encoded.size()
            with self.fs.open(data_tmp, "wb") as file, HashingSink(size, file.write) as sink:
                encoded.write_to(sink)
            checksum, full = sink.finish()
            location = self.fs.unstrip_protocol(final)
            record = describe(bytes=size, checksum=checksum, full_checksum=full, location=location)
            self.fs.pipe_file(meta_tmp, pack_sidecar(record))
        except BaseException:
            self._remove_quietly((meta_tmp, data_tmp) if self._moves else (meta_tmp,))
            raise
        files = (data_tmp, meta_tmp, final, meta)
        return Staged(key=key, record=record, files=files, replace=replace)

    def _publish_one(self, staged: Staged) -> StoredOutput:
        data_tmp, meta_tmp, final, meta = staged.files  # type: ignore[misc]
        try:
            if not staged.replace:
                existing = self.assess([staged.key])[staged.key].present
                if existing is not None:
                    return existing
            else:  # data of another kind stored under the key goes
                directory = self._paths(staged.key)[0]
                others = (f"{directory}/{staged.key}{suffix}" for suffix in DATA_SUFFIXES)
                self._remove_quietly([path for path in others if path != final])
            if self._moves:
                self.fs.mv(data_tmp, final)
                self.fs.mv(meta_tmp, meta)
            else:
                self.fs.pipe_file(meta, self.fs.cat_file(meta_tmp))
            return staged.record  # type: ignore[return-value]
        finally:
            self.discard([staged])

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs; an output stored meanwhile is kept instead, unless the
        staged one replaces it."""
        for item in staged:
            self._publish_one(item)

    def discard(self, staged: Sequence[Staged]) -> None:
        """Remove what staging wrote that was not committed."""
        for item in staged:
            data_tmp, meta_tmp, _, _ = item.files  # type: ignore[misc]
            self._remove_quietly((meta_tmp, data_tmp) if self._moves else (meta_tmp,))

    def write_dataset(
        self, key: str, produce: Produce, describe: Callable[..., StoredOutput]
    ) -> StoredOutput:
        """Store the Parquet dataset `produce` writes as the output under `key` (an earlier
        one stays beside it), and return the sidecar."""
        meta = self._paths(key)[1]
        return self.datasets.write(
            key, produce, describe, lambda sidecar: self.fs.pipe_file(meta, sidecar)
        )

    def _remove_quietly(
        self,
        paths: Sequence[str],
        measure: Callable[[str], int] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Remove the existing files of `paths` (unless `dry_run`); the sum of `measure` over
        them."""
        total = 0
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                size = 0 if measure is None else measure(path)
                if not dry_run:
                    self.fs.rm_file(path)
                total += size
        return total

    def records(self) -> list[StoredOutput]:
        """The sidecars of all stored outputs (not checked)."""
        paths = self.fs.glob(f"{self.root}/*/*.meta")
        sidecars = self.fs.cat(paths, on_error="omit") if paths else {}
        found = []
        for path, sidecar in sidecars.items():
            with contextlib.suppress(ValueError):
                found.append(unpack_sidecar(sidecar, path.rsplit("/", 1)[-1].removesuffix(".meta")))
        return found

    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove `key`'s sidecar, then its data (unless `dry_run`); the number of bytes freed
        (or that would be)."""
        directory, meta = self._paths(key)
        paths = (meta, *(f"{directory}/{key}{suffix}" for suffix in DATA_SUFFIXES))
        freed = self._remove_quietly(paths, self.fs.size, dry_run)
        return freed + self.datasets.delete(key, dry_run)

    def reclaim(self, before: float, dry_run: bool) -> list[Reclaimed]:
        """Remove the temporary files and directories of killed writes: those last modified
        before `before` (without locks, age is all that tells them from live writes; a name
        whose filesystem gives no modification time is kept)."""
        reclaimed = []
        for path in self.fs.glob(f"{self.root}/*/.*{TEMPORARY_SUFFIX}"):
            info = self.fs.info(path)
            modified = modified_time(info)
            if modified is None or modified >= before:
                continue
            size = (
                sum(self.fs.du(path, total=False).values())
                if info["type"] == "directory"
                else info["size"]
            )
            if not dry_run:
                self.fs.rm(path, recursive=True)
            reclaimed.append(Reclaimed(path=self.fs.unstrip_protocol(path), bytes=size))
        return reclaimed

    def shared_objects(self, name: str) -> SharedObjects:
        """The objects under `<root>/_<name>`, which every host using the store sees."""
        return SharedObjects(self.fs, f"{self.root}/_{name}")

    def flush(self) -> None:
        """Nothing to do: every output is written when it is put."""

    def close(self) -> None:
        """Nothing to do: the filesystem instance is shared (fsspec caches it)."""
