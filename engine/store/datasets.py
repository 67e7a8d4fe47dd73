"""Outputs stored as a directory of Parquet files written by another engine (such as Spark).

Every write of a key's dataset goes into a directory of its own: a `produce` callback writes
it under a temporary name that its writer holds, and it is moved to
`<key[:2]>/<key>.<time>-<token>.parquet`; the sidecar, written last and replaced atomically,
names the directory and is the commit point. Writing
the dataset is what runs its Spark jobs, so a step that runs always writes: a dataset stored
under the same key earlier stays beside the new one, whole, for readers that found it before
the commit, until `superseded` copies are collected. The sidecar's sampled checksum covers
the names and sizes of every file in the directory (cheap to check: one listing), its full
checksum covers their content too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import xxhash
from fsspec import AbstractFileSystem

from solidflow.engine.store.codec_registry import dataset_as
from solidflow.engine.store.codecs import Codec
from solidflow.engine.store.records import (
    Assessment,
    OutputStatus,
    StoredOutput,
    corrupt,
    missing,
    pack_sidecar,
)
from solidflow.engine.store.verified import is_verified, mark_verified

PARQUET = "parquet"
DATASET_SUFFIX = ".parquet"
_READ_BLOCK = 8 * 1024 * 1024
_COPY = re.compile(r"(?P<key>[0-9a-f]+)(\.(?P<millis>[0-9a-f]+)-[0-9a-f]+)?\.parquet")
"""A dataset directory's name: its key and, but for those of older stores, when it was made."""

# A callback that writes a Parquet dataset into the directory it is given (a path or URL).
Produce = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class StoredDataset:
    """A stored Parquet dataset: what a step downstream of an output stored as a dataset
    (such as a Spark DataFrame) receives until it is converted to the input's declared type.

    Args:
        key: the output's store key.
        location: the dataset directory, a local path or an fsspec URL.
        rows: the number of rows, from the Parquet footers.
        schema: the Arrow schema as text.
        python_type: the type of the value that was stored (its codec's python_type).
    """

    key: str
    location: str
    rows: int | None = None
    schema: str | None = None
    python_type: str = ""

    @classmethod
    def of(cls, record: StoredOutput) -> StoredDataset:
        """The dataset stored as described by the sidecar `record`."""
        return cls(
            key=record.key,
            location=record.location,
            rows=record.rows,
            schema=record.schema,
            python_type=record.python_type,
        )

    def to_arrow(self) -> pa.Table:
        """The whole dataset as one Arrow table, read in this process."""
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self.location)
        return _parquet_dataset(path, fs).to_table()

    def to_pandas(self) -> Any:
        """The whole dataset as a pandas DataFrame, read in this process (by Arrow)."""
        return self.to_arrow().to_pandas()

    def load_as(self, python_class: type, **resources: Any) -> Any:
        """The dataset as a value of `python_class`, built by that class's codec: a pandas or
        polars DataFrame read in this process, or a Spark DataFrame read by the session
        given as `spark=...`, for example."""
        return dataset_as(self, (python_class,), resources)


class StoredDatasetCodec(Codec):
    """Inputs declared as StoredDataset receive the dataset itself."""

    python_type = "solidflow.StoredDataset"
    classes = (f"{__name__}.StoredDataset",)
    loads_datasets = True

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        return dataset


STORED_DATASET_CODEC = StoredDatasetCodec()


def _parquet_dataset(path: str, fs: AbstractFileSystem) -> Any:
    import pyarrow.dataset  # imports pandas when installed: only when needed

    return pyarrow.dataset.dataset(path, filesystem=fs, format="parquet")


def _walk(fs: AbstractFileSystem, directory: str) -> list[tuple[str, int]]:
    """Every file below `directory` as (relative path, size), sorted by path."""
    found = fs.find(directory, detail=True, withdirs=False)
    prefix = directory.rstrip("/") + "/"
    return sorted((path.removeprefix(prefix), int(info["size"])) for path, info in found.items())


def _listing_hash(files: list[tuple[str, int]]) -> xxhash.xxh3_128:
    hasher = xxhash.xxh3_128()
    for name, size in files:
        hasher.update(name.encode())
        hasher.update(b"\0")
        hasher.update(size.to_bytes(8, "little"))
    return hasher


def _full_hash(fs: AbstractFileSystem, directory: str, files: list[tuple[str, int]]) -> str:
    hasher = _listing_hash(files)
    for name, _ in files:
        with fs.open(f"{directory}/{name}", "rb") as file:
            while block := file.read(_READ_BLOCK):
                hasher.update(block)
    return hasher.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetCopy:
    """A dataset directory that no sidecar names: an earlier write of its key, or a write
    that never committed. `since` is when it stopped being the key's output (when the
    sidecar that replaced it was made), or when its writer began if no sidecar names it."""

    key: str
    path: str
    since: float


class DatasetDirectories:
    """Parquet dataset outputs of a store rooted at `root` on the filesystem `fs`.

    `lock(directory)` is held while a dataset is committed or deleted (a no-op where the
    filesystem has no locks), and `owning(temporary)` while it is written under a temporary
    name (so that gc knows the write is live); `url(path)` turns a path into what a writer or
    reader needs.
    With `verify_once` (local directories), a dataset's content is also checked against the
    full checksum, the first time it is seen and whenever its files change (see `verified`).
    Without `moves` (an object store, where a move is a copy), the producer writes into the
    dataset's final directory, which no reader looks at before the sidecar names it.
    """

    def __init__(
        self,
        fs: AbstractFileSystem,
        root: str,
        lock: Callable[[str], AbstractContextManager[object]],
        url: Callable[[str], str],
        verify_once: bool = False,
        owning: Callable[[str], AbstractContextManager[object]] = contextlib.nullcontext,
        moves: bool = True,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self._lock = lock
        self._url = url
        self._verify_once = verify_once
        self._owning = owning
        self._moves = moves

    def _directory(self, key: str) -> str:
        return f"{self.root}/{key[:2]}"

    def path(self, record: StoredOutput) -> str:
        """The directory of the dataset that `record` (a sidecar) names."""
        name = record.location.rstrip("/").rsplit("/", 1)[-1]
        found = _COPY.fullmatch(name)
        if found is None or found.group("key") != record.key:
            name = f"{record.key}{DATASET_SUFFIX}"  # not a name this store makes: the oldest
        return f"{self._directory(record.key)}/{name}"

    def load(self, record: StoredOutput) -> tuple[Assessment, StoredDataset | None]:
        """The assessment of `record`'s dataset and, when PRESENT, what loading it gives."""
        found = self.assess(record)
        return found, StoredDataset.of(record) if found.present else None

    def assess(self, record: StoredOutput) -> Assessment:
        """PRESENT if the directory's files have the names and sizes the sidecar says."""
        directory = self.path(record)
        if not self.fs.isdir(directory):
            return missing("no dataset directory")
        files = _walk(self.fs, directory)
        reason = None
        total = sum(size for _, size in files)
        if total != record.bytes:
            reason = f"dataset holds {total} bytes, the sidecar says {record.bytes}"
        elif _listing_hash(files).hexdigest() != record.checksum:
            reason = "the dataset's files differ from the sidecar's list"
        elif self._verify_once and not is_verified(directory, record.full_checksum):
            if _full_hash(self.fs, directory, files) != record.full_checksum:
                reason = "full checksum differs from the sidecar's"
            else:
                mark_verified(directory, record.full_checksum)
        if reason is not None:
            return corrupt(record, reason)
        return Assessment(status=OutputStatus.PRESENT, record=record)

    def full_checksum(self, record: StoredOutput) -> str:
        """The checksum of the names, sizes and content of all the dataset's files."""
        directory = self.path(record)
        return _full_hash(self.fs, directory, _walk(self.fs, directory))

    def write(
        self,
        key: str,
        produce: Produce,
        describe: Callable[..., StoredOutput],
        write_sidecar: Callable[[bytes], None],
    ) -> StoredOutput:
        """Have `produce` write the dataset under a temporary name, move it to a new
        directory of its own and commit it by writing the sidecar that names it (its
        `created` is the commit's time). What a failed write or commit left is removed."""
        directory = self._directory(key)
        made = f"{int(time.time() * 1000):x}-{secrets.token_hex(6)}"
        final = f"{directory}/{key}.{made}{DATASET_SUFFIX}"
        self.fs.makedirs(directory, exist_ok=True)
        temporary = f"{directory}/.{key}.{secrets.token_hex(8)}.parquet.tmp"
        if not self._moves:  # no reader looks at `final` until the sidecar names it
            temporary = final
        committed = False
        with self._owning(temporary):
            try:
                produce(self._url(temporary))
                files = _walk(self.fs, temporary)
                dataset = _parquet_dataset(temporary, self.fs)
                record = describe(
                    bytes=sum(size for _, size in files),
                    checksum=_listing_hash(files).hexdigest(),
                    full_checksum=_full_hash(self.fs, temporary, files),
                    location=self._url(final),
                    rows=dataset.count_rows(),
                    schema=dataset.schema.remove_metadata().to_string(),
                )
                with self._lock(directory):
                    if temporary != final:
                        self.fs.mv(temporary, final, recursive=True)
                    record = dataclasses.replace(record, created=time.time())  # committed now
                    write_sidecar(pack_sidecar(record))
                committed = True
            finally:
                left = {temporary, final} - ({final} if committed else set())
                for path in left:
                    with contextlib.suppress(FileNotFoundError):
                        if self.fs.exists(path):
                            self.fs.rm(path, recursive=True)
        if self._verify_once:  # its content was hashed above
            mark_verified(final, record.full_checksum)
        return record

    def _copies(self, key: str | None = None) -> Iterator[tuple[str, str, float]]:
        """(key, path, when made) of every dataset directory (of `key`, if given)."""
        pattern = f"{self._directory(key)}/{key}*" if key else f"{self.root}/*/*"
        for path in self.fs.glob(pattern + DATASET_SUFFIX):
            found = _COPY.fullmatch(path.rstrip("/").rsplit("/", 1)[-1])
            if found is not None and (key is None or found.group("key") == key):
                millis = found.group("millis")
                yield found.group("key"), path, int(millis, 16) / 1000 if millis else 0.0

    def write_table(self, location: str, table: pa.Table) -> None:
        """Write `table` as the one Parquet file of the dataset directory `location` (what
        `write` gives a producer)."""
        import pyarrow.parquet as pq

        directory = self.fs._strip_protocol(location).rstrip("/")
        self.fs.makedirs(directory, exist_ok=True)
        pq.write_table(table, f"{directory}/part-00000.parquet", filesystem=self.fs)

    def superseded(self, current: Callable[[str], StoredOutput | None]) -> list[DatasetCopy]:
        """The dataset directories that the sidecar of their key (`current(key)`) does not
        name."""
        copies = []
        for key, path, made in self._copies():
            record = current(key)
            if record is None:
                copies.append(DatasetCopy(key=key, path=path, since=made))
            elif record.serializer != PARQUET or self.path(record) != path:
                copies.append(DatasetCopy(key=key, path=path, since=record.created))
        return copies

    def size(self, path: str) -> int:
        """The bytes of a dataset directory's files."""
        return sum(size for _, size in _walk(self.fs, path)) if self.fs.isdir(path) else 0

    def remove(self, copy: DatasetCopy) -> int:
        """Remove a superseded dataset directory; the number of bytes freed."""
        with self._lock(self._directory(copy.key)):
            return self._remove(copy.path)

    def _remove(self, path: str) -> int:
        freed = self.size(path)
        if freed or self.fs.isdir(path):
            self.fs.rm(path, recursive=True)
        return freed

    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove every dataset directory of `key` (unless `dry_run`); the number of bytes
        freed (or that would be)."""
        paths = [path for _, path, _ in self._copies(key)]
        if dry_run:
            return sum(self.size(path) for path in paths)
        return sum(self._remove(path) for path in paths)
