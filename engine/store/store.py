"""IntermediateStore: every step output of every run, stored once and addressed by key."""

from __future__ import annotations

import builtins
import functools
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypedDict

from fsspec.core import split_protocol

from solidflow.engine.store.backend import STORAGES, StorageBackend
from solidflow.engine.store.datasets import PARQUET, DatasetCopy, Produce
from solidflow.engine.store.files import Reclaimed
from solidflow.engine.store.records import (
    Assessment,
    OutputCorrupt,
    OutputMissing,
    OutputStatus,
    Staged,
    StoredOutput,
    full_checksum,
)
from solidflow.engine.store.serialization import Encoded, decode, encode
from solidflow.engine.store.shared import SharedObjects

_KEY = re.compile(r"[0-9a-f]{2,}")
_LOCAL_PROTOCOLS = (None, "file", "local")


def _sidecar_of(
    key: str,
    run_id: str,
    step: str,
    output: str,
    lineage: Mapping[str, Any] | None,
    **fields: Any,
) -> Callable[..., StoredOutput]:
    """The sidecar of a new output, waiting for what only its write knows (size, checksums,
    location)."""
    return functools.partial(
        StoredOutput,
        key=key,
        run_id=run_id,
        step=step,
        output=output,
        created=time.time(),
        lineage=dict(lineage or {}),
        **fields,
    )


def _encoded_sidecar_of(
    key: str,
    encoded: Encoded,
    run_id: str,
    step: str,
    output: str,
    lineage: Mapping[str, Any] | None,
) -> Callable[..., StoredOutput]:
    """`_sidecar_of` a value in its stored form."""
    return _sidecar_of(
        key,
        run_id,
        step,
        output,
        lineage,
        serializer=encoded.serializer,
        python_type=encoded.python_type,
        schema=encoded.schema,
        rows=encoded.rows,
    )


def is_local_root(root: str | os.PathLike[str]) -> bool:
    """Whether a store at `root` is a local directory (a plain path or a file:// URL)."""
    return split_protocol(os.fspath(root))[0] in _LOCAL_PROTOCOLS


def default_backend(root: str) -> str:
    """The storage backend of a store at `root` when none is named: "local" for a directory,
    the backend registered under the URL's protocol if there is one ("s3"), else "fsspec"."""
    protocol = split_protocol(root)[0]
    if protocol in _LOCAL_PROTOCOLS:
        return "local"
    return protocol if protocol in STORAGES.names() else "fsspec"


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"invalid output key {key!r}: must be a lowercase hex string")
    return key


class OutputOrigin(TypedDict):
    """Which output of which step of which run a stored value is, and its lineage: the
    keywords that IntermediateStore.put and its kin take, to pass them on as a whole."""

    run_id: str
    step: str
    output: str
    lineage: Mapping[str, Any] | None


class IntermediateStore:
    """Step outputs stored by the process that produced them, addressed by key: a memoized
    run stores an output once and never overwrites it; a run without memoization replaces
    what is stored under its keys (`put(..., replace=True)`, see StorageBackend).

    Args:
        root: a local directory (a plain path or a file:// URL), or any fsspec URL such as
            memory://... or s3://bucket/prefix.
        storage_options: passed to the fsspec filesystem of a URL root.
        backend: the storage backend (a registered name or "package.module:Class"); by
            default "local" for a directory, the backend registered under a URL's protocol
            ("s3"), else "fsspec".

    Values whose class has a codec (see codec_registry) are stored as it encodes them: tables,
    data frames and numeric arrays as Arrow IPC files, loaded zero-copy from local disk (so
    arrays load read-only). bytes, bytearray and memoryview values are stored as they are,
    without a copy, and load into one buffer (a memoryview read-only, of format "B"). Plain
    data (None, bool, int, float, str, bytes and lists and str-keyed dicts of them) is stored
    as msgpack, anything else with cloudpickle. In a local root, these outputs of up to 64 KiB
    are packed into one SQLite database and written on `flush` (or every 500 outputs); until
    then only this process sees them. Parquet datasets written by another engine
    (`put_dataset`) are stored as directories and load as a StoredDataset.

    `check` and `get` detect damage by size and a checksum of up to ~2 MiB of samples, and
    check the whole data the first time they see it (see README, "What is checked when");
    `verify` checks a checksum of the whole data. A damaged packed database is moved aside
    and replaced by an empty one: `warn(message)` says so (default: the "solidflow.store"
    logger).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        storage_options: dict[str, Any] | None = None,
        backend: str | None = None,
        warn: Callable[[str], object] | None = None,
    ) -> None:
        self.root = os.fspath(root)
        self.storage_options = dict(storage_options or {})
        self.backend = backend or default_backend(self.root)
        self._backend: StorageBackend = STORAGES.load(self.backend).from_root(
            self.root, self.storage_options
        )
        if warn is not None:
            self._backend.warn = warn

    def __repr__(self) -> str:
        return f"IntermediateStore({self.root!r})"

    @property
    def writes_guarded(self) -> bool:
        """Whether `put(..., known_missing=True)` skips looking for a stored output first."""
        return self._backend.writes_guarded

    def put(
        self,
        key: str,
        value: Any,
        *,
        run_id: str,
        step: str,
        output: str,
        lineage: Mapping[str, Any] | None = None,
        known_missing: bool = False,
        replace: bool = False,
    ) -> StoredOutput:
        """Store `value` under `key` and return its sidecar. If a valid output is already
        stored under `key`, write nothing and return that output's sidecar; with `replace`,
        the value replaces it atomically (for the other processes, once flushed: see the
        class).

        With `known_missing` (the caller found no output under `key`, say when its run
        started) a store whose writes are guarded skips that look. An output that another
        process stored meanwhile is still never replaced or duplicated: this call's value is
        dropped at the commit of its packed row (the sidecar returned is then this call's)
        or before its files are renamed into place (the stored output's sidecar is
        returned)."""
        return self.put_encoded(
            key,
            encode(value),
            run_id=run_id,
            step=step,
            output=output,
            lineage=lineage,
            known_missing=known_missing,
            replace=replace,
        )

    def put_encoded(
        self,
        key: str,
        encoded: Encoded,
        *,
        run_id: str,
        step: str,
        output: str,
        lineage: Mapping[str, Any] | None = None,
        known_missing: bool = False,
        replace: bool = False,
    ) -> StoredOutput:
        """`put` of a value already in its stored form (`encode(value)`)."""
        if not (replace or (known_missing and self._backend.writes_guarded)):
            existing = self.info(key)
            if existing is not None:
                return existing
        describe = _encoded_sidecar_of(key, encoded, run_id, step, output, lineage)
        return self._backend.write(_check_key(key), encoded, describe, replace)

    def stage(
        self,
        key: str,
        encoded: Encoded,
        *,
        run_id: str,
        step: str,
        output: str,
        lineage: Mapping[str, Any] | None = None,
        sync: bool = False,
        replace: bool = False,
    ) -> Staged:
        """Write a value in its stored form without committing it: no process sees it until
        `publish`, and a crash before that leaves nothing but temporary files. With
        `replace`, `publish` puts it in place of the output stored under `key`."""
        describe = _encoded_sidecar_of(key, encoded, run_id, step, output, lineage)
        return self._backend.stage(_check_key(key), encoded, describe, sync, replace)

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs, syncing them first if `sync`. A valid output that another
        process stored under the same key meanwhile is kept, never replaced, unless the
        staged output was staged to replace it."""
        self._backend.publish(staged, sync)

    def discard(self, staged: Sequence[Staged]) -> None:
        """Drop staged outputs that will not be committed."""
        self._backend.discard(staged)

    def put_dataset(
        self,
        key: str,
        produce: Produce,
        *,
        python_type: str,
        run_id: str,
        step: str,
        output: str,
        lineage: Mapping[str, Any] | None = None,
    ) -> StoredOutput:
        """Store, under `key`, the Parquet dataset that `produce(location)` writes into the
        directory `location` (a path or URL), and return its sidecar; `get` then gives a
        StoredDataset.

        Unlike `put`, this always writes (writing the dataset is what computes it): the new
        dataset goes into a directory of its own and becomes the output under `key` when its
        sidecar is written. A dataset stored under `key` before stays whole beside it, for
        readers that found it earlier, until `collect_superseded` removes it."""
        describe = _sidecar_of(
            key, run_id, step, output, lineage, serializer=PARQUET, python_type=python_type
        )
        return self._backend.write_dataset(key, produce, describe)

    def write_table(self, location: str, table: Any) -> None:
        """Write the Arrow `table` as Parquet into the dataset directory `location` that
        `put_dataset` gave its producer (for a value whose engine cannot write there)."""
        self._backend.datasets.write_table(location, table)

    def get(self, key: str) -> Any:
        """The value stored under `key`; OutputMissing or OutputCorrupt if it cannot be loaded."""
        found, data = self._backend.load(_check_key(key))
        record = found.present
        if record is None:
            if found.status is OutputStatus.CORRUPT:
                message = f"the output stored under key {key} is corrupt: {found.reason}"
                raise OutputCorrupt(message, key=key, reason=found.reason)
            message = f"no output is stored under key {key}: {found.reason}"
            raise OutputMissing(message, key=key, reason=found.reason)
        if record.serializer == PARQUET:
            return data
        return decode(record.serializer, record.python_type, data)

    def assess(self, keys: Collection[str]) -> dict[str, Assessment]:
        """The status of each key, the reason unless PRESENT, and the sidecar when PRESENT
        (cheap: see the class)."""
        return self._backend.assess([_check_key(key) for key in keys])

    def check(self, keys: Collection[str]) -> dict[str, tuple[OutputStatus, str | None]]:
        """The status of each key and, unless PRESENT, the reason (cheap: see the class)."""
        found = self.assess(keys)
        return {key: (assessment.status, assessment.reason) for key, assessment in found.items()}

    def uncommitted(self, keys: Iterable[str]) -> list[str]:
        """The keys among `keys` of the outputs that this process stored and that only it sees
        until `flush`."""
        return self._backend.uncommitted(keys)

    def committed(self, keys: Collection[str]) -> set[str]:
        """The keys among `keys` under which an output is stored for every process to see
        (cheaper than `check`: a local store does not read the data)."""
        return self._backend.committed([_check_key(key) for key in keys])

    def info(self, key: str) -> StoredOutput | None:
        """The sidecar of the output stored under `key`, or None if it is not PRESENT."""
        return self.assess([key])[key].present

    def list(self, run_id: str | None = None) -> list[StoredOutput]:
        """The sidecars of all stored outputs (or of those produced by run `run_id`), newest
        first. Damaged outputs are listed too, so that they can be deleted."""
        records = self._backend.records()
        if run_id is not None:
            records = [record for record in records if record.run_id == run_id]
        return sorted(records, key=lambda record: record.created, reverse=True)

    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove the data and sidecar stored under `key` (unless `dry_run`); the number of
        bytes freed (or that would be)."""
        return self._backend.delete(_check_key(key), dry_run)

    def reclaim(self, before: float, dry_run: bool = False) -> builtins.list[Reclaimed]:
        """Remove (unless `dry_run`) the temporary files that killed writes left behind:
        those no live process holds (in a local store) that last changed before `before`,
        seconds since the epoch. Returns what was (or would be) removed."""
        return self._backend.reclaim(before, dry_run)

    def verify(self, key: str) -> tuple[OutputStatus, str | None]:
        """The status of `key` after also checking the checksum of the whole data."""
        found, data = self._backend.load(_check_key(key))
        record = found.present
        if record is None:
            return found.status, found.reason
        if record.serializer == PARQUET:
            actual = self._backend.datasets.full_checksum(record)
        else:
            actual = full_checksum(data)
        if actual != record.full_checksum:
            return OutputStatus.CORRUPT, "full checksum differs from the sidecar's"
        return OutputStatus.PRESENT, None

    def superseded(self) -> builtins.list[DatasetCopy]:
        """The Parquet dataset directories that no sidecar names: earlier writes of their
        key, and writes that never committed."""
        current = {record.key: record for record in self._backend.records()}
        return self._backend.datasets.superseded(current.get)

    def collect_superseded(self, before: float, dry_run: bool = False) -> int:
        """Remove the superseded dataset directories that stopped being their key's output
        before `before` (seconds since the epoch; say, when the oldest run still going
        started, so that no run can still be reading them); the number of bytes freed, or
        that would be on a dry run."""
        datasets = self._backend.datasets
        found = [copy for copy in self.superseded() if copy.since < before]
        if dry_run:
            return sum(datasets.size(copy.path) for copy in found)
        return sum(datasets.remove(copy) for copy in found)

    def shared_objects(self, name: str) -> SharedObjects | None:
        """The objects of the directory `name` beside the outputs that the processes of every
        host using this store see (None for a local store: see StorageBackend)."""
        return self._backend.shared_objects(name)

    def flush(self) -> None:
        """Make pending packed outputs durable and visible to other processes."""
        self._backend.flush()

    def close(self) -> None:
        """Flush and release the store's connections."""
        self._backend.close()
