"""The files of outputs under a local store's root: `<key[:2]>/<key>.arrow` or `.bin` (the
data) and `<key[:2]>/<key>.meta` (the sidecar), written under temporary names that the writer
holds, then renamed into place, data first: the sidecar is the commit point."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from solidflow.engine.store.datasets import PARQUET, DatasetDirectories
from solidflow.engine.store.files import (
    TEMPORARY_SUFFIX,
    fsync_dir,
    hold_temporary,
    read_whole,
    release_temporary,
    write_synced,
)
from solidflow.engine.store.records import (
    WHOLE_LIMIT,
    Assessment,
    Staged,
    StoredOutput,
    assess_buffer,
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

NO_SIDECAR = "no sidecar"
"""Why an output is MISSING that has no sidecar file (the usual case: it was never stored)."""


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


def unlink_quietly(paths: Iterable[str]) -> None:
    """Remove the files of `paths` that exist."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class OutputFiles:
    """Reads, stages and moves into place the files of outputs under `root`; the caller
    holds the locks (see LocalStore)."""

    def __init__(self, root: str, datasets: DatasetDirectories) -> None:
        self.root = root
        self.datasets = datasets

    def paths(self, key: str) -> tuple[str, str]:
        """The directory of `key`'s files and its sidecar path."""
        directory = os.path.join(self.root, key[:2])
        return directory, os.path.join(directory, f"{key}.meta")

    def data_path(self, key: str, serializer: str) -> str:
        return os.path.join(self.root, key[:2], f"{key}{data_suffix(serializer)}")

    def all_paths(self, key: str) -> list[str]:
        """Every file an output of `key` may have: sidecar, data of any kind, marker."""
        directory, meta = self.paths(key)
        suffixes = (*DATA_SUFFIXES, MARKER_SUFFIX)
        return [meta, *(os.path.join(directory, f"{key}{suffix}") for suffix in suffixes)]

    def open(self, key: str, loading: bool = False) -> tuple[Assessment, Any]:
        """The assessment of `key`'s files and, when PRESENT, its data: memory-mapped, or
        when `loading` a payload that decoding copies anyway, read into memory once."""
        sidecar = self.paths(key)[1]
        if not os.path.exists(sidecar):  # cheaper than failing to open it
            return missing(NO_SIDECAR), None
        try:
            with open(sidecar, "rb") as file:
                record = read_sidecar(key, file.read())
        except FileNotFoundError:
            record = read_sidecar(key, None)
        if isinstance(record, Assessment):
            return record, None
        if record.serializer == PARQUET:
            return self.datasets.load(record)
        path = self.data_path(key, record.serializer)
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

    def with_sidecar(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` that have a sidecar file (each directory is looked at once)."""
        keys = list(keys)
        directories = {key[:2] for key in keys}
        existing = {name for name in directories if os.path.isdir(os.path.join(self.root, name))}
        return {key for key in keys if key[:2] in existing and os.path.exists(self.paths(key)[1])}

    def valid(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` with a valid output stored in files."""
        return {key for key in self.with_sidecar(keys) if self.open(key)[0].present}

    def records(self) -> dict[str, StoredOutput]:
        """The sidecars of the outputs in files, by key, not checked."""
        found = {}
        for meta in glob.glob(os.path.join(glob.escape(self.root), "??", "*.meta")):
            key = os.path.basename(meta).removesuffix(".meta")
            with contextlib.suppress(FileNotFoundError, ValueError), open(meta, "rb") as file:
                found[key] = unpack_sidecar(file.read(), key)
        return found

    def stage(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        sync: bool,
        replace: bool,
    ) -> Staged:
        """Write `encoded` and its sidecar under temporary names that this process holds
        until `move_into_place` or `release`; `sync` syncs them at once."""
        directory, meta = self.paths(key)
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
            fsync_dir(self.root)
        final = self.data_path(key, encoded.serializer)
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
            key=key,
            record=None,
            files=(data_tmp, meta_tmp, final, meta),
            fds=(data_fd, meta_fd),
            replace=replace,
        )
        try:
            size = encoded.size()
            checksum, full = write_synced(data_fd, size, encoded.write_to, sync)
            record = describe(bytes=size, checksum=checksum, full_checksum=full, location=final)
            sidecar = pack_sidecar(record)
            write_synced(meta_fd, len(sidecar), lambda sink: sink.write(sidecar), sync)
        except BaseException:
            self.release([staged])
            raise
        return dataclasses.replace(staged, record=record)

    def sync(self, staged: Staged) -> None:
        """Sync a staged output's temporary files."""
        for fd in staged.fds or ():
            os.fsync(fd)

    def move_into_place(self, staged: Staged, sync: bool) -> None:
        """Rename a staged output's files into place, data first (`sync`: then sync their
        directory). A replacing output first removes the other files of its key (data of
        another kind, and the verified marker of the data it replaces). Call with the
        directory locked."""
        data_tmp, meta_tmp, final, meta = staged.files  # type: ignore[misc]
        if staged.replace:
            unlink_quietly(path for path in self.all_paths(staged.key)[1:] if path != final)
        os.replace(data_tmp, final)
        os.replace(meta_tmp, meta)
        if sync:
            fsync_dir(os.path.dirname(meta))

    def release(self, staged: Sequence[Staged]) -> None:
        """Remove the temporary files of staged outputs (those not moved into place)."""
        for item in staged:
            if item.files is not None and item.fds is not None:
                for fd, path in zip(item.fds, item.files[:2], strict=True):
                    release_temporary(fd, path)

    def mark_written(self, staged: Staged) -> None:
        """Record that the data moved into place matches its full checksum (it was hashed as
        it was written): a large output is not hashed again on its first load."""
        record: StoredOutput = staged.record  # type: ignore[assignment]
        if record.bytes > WHOLE_LIMIT:
            mark_verified(staged.files[2], record.full_checksum)  # type: ignore[index]
