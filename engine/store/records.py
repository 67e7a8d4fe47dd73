"""Sidecar records of stored outputs, their statuses and errors, and the checksums that
tell a stored output from a damaged one."""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import msgpack
import pyarrow as pa
import xxhash

from solidflow.engine.store.serialization import ARROW

SIDECAR_VERSION = 1
# Outputs up to this size are checksummed whole; larger ones by SAMPLE_COUNT blocks of
# SAMPLE_BLOCK bytes evenly spaced between a block at the start and one at the end.
WHOLE_LIMIT = 4 * 1024 * 1024
SAMPLE_BLOCK = 64 * 1024
SAMPLE_COUNT = 32
# Outputs at least this large are hashed by another thread while they are written; writes
# at least _SHARED_WRITE large are hashed in place, smaller ones from a copy.
_THREADED_SIZE = 4 * 1024 * 1024
_SHARED_WRITE = 64 * 1024


class OutputStatus(str, Enum):
    """Whether a stored output can be loaded."""

    PRESENT = "PRESENT"
    MISSING = "MISSING"
    CORRUPT = "CORRUPT"


class StoreError(Exception):
    """A stored output cannot be loaded.

    Args:
        message: what went wrong, naming the key.
        key: the key of the output.
        reason: why it cannot be loaded (e.g. "no sidecar"), without the key.
    """

    def __init__(self, message: str, *, key: str, reason: str | None) -> None:
        super().__init__(message)
        self.key = key
        self.reason = reason


class OutputMissing(StoreError):
    """No output is stored under the key."""


class OutputCorrupt(StoreError):
    """The output stored under the key is damaged; treat it as missing and recompute it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredOutput:
    """Everything known about one stored output (its sidecar).

    Args:
        key: the hex key the output is stored under.
        serializer: "arrow", "msgpack" or "pickle".
        python_type: the type the value loads as, e.g. "pyarrow.Table" or "builtins.dict".
        schema: the Arrow schema as text for Arrow outputs, else None.
        rows: the number of rows of tables, data frames and arrays, else None.
        bytes: the exact size of the stored data.
        checksum: the sampled checksum of the data (see `sampled_checksum`).
        full_checksum: xxh3-128 hex digest of the whole data.
        run_id: the run that produced the output.
        step: the step that produced it.
        output: the step's output name.
        created: seconds since the epoch when it was stored.
        lineage: what the key was made of, as given by the caller (msgpack-able).
        location: the data's path or URL, or "packed:<database path>".
    """

    key: str
    serializer: str
    python_type: str
    schema: str | None
    rows: int | None
    bytes: int
    checksum: str
    full_checksum: str
    run_id: str
    step: str
    output: str
    created: float
    lineage: dict[str, Any]
    location: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    """An output written but not committed: its sidecar, and its files under temporary names
    (data, sidecar, then where each goes), or None for a row kept by the writing process;
    `fds` are the temporary files, held open (and locked) by the writer until then; `replace`
    says that the commit replaces an output stored under its key (see StorageBackend)."""

    key: str
    record: StoredOutput | None
    files: tuple[str, str, str, str] | None
    fds: tuple[int, int] | None = None
    replace: bool = False


_SIDECAR_FIELDS = frozenset(field.name for field in dataclasses.fields(StoredOutput))


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """A stored output's status, the reason when it is CORRUPT or MISSING, and its sidecar."""

    status: OutputStatus
    reason: str | None = None
    record: StoredOutput | None = None

    @property
    def present(self) -> StoredOutput | None:
        """The sidecar if the output is PRESENT, else None."""
        return self.record if self.status is OutputStatus.PRESENT else None


def pack_sidecar(record: StoredOutput) -> bytes:
    """The sidecar file content of `record`."""
    fields = {name: getattr(record, name) for name in _SIDECAR_FIELDS}
    packed: bytes = msgpack.packb({"v": SIDECAR_VERSION, **fields}, use_bin_type=True)
    return packed


def unpack_sidecar(data: bytes, key: str) -> StoredOutput:
    """The record in sidecar content `data`; ValueError if it is not a sidecar of `key`."""
    try:
        fields = msgpack.unpackb(data, raw=False)
    except Exception as error:
        raise ValueError(f"unreadable sidecar: {error}") from error
    if not isinstance(fields, dict) or fields.pop("v", None) != SIDECAR_VERSION:
        raise ValueError("unreadable sidecar: not a version 1 sidecar")
    if fields.keys() != _SIDECAR_FIELDS:
        raise ValueError("unreadable sidecar: wrong fields")
    record = StoredOutput(**fields)
    if record.key != key:
        raise ValueError(f"sidecar is for key {record.key!r}")
    return record


def _hasher() -> xxhash.xxh3_128:
    return xxhash.xxh3_128()


def sample_ranges(size: int) -> list[tuple[int, int]]:
    """The (offset, length) ranges of a `size`-byte output that its checksum covers, in order."""
    if size <= WHOLE_LIMIT:
        return [(0, size)]
    last = size - SAMPLE_BLOCK
    return [(last * i // (SAMPLE_COUNT + 1), SAMPLE_BLOCK) for i in range(SAMPLE_COUNT + 2)]


def sampled_checksum(size: int, read: Callable[[int, int], Any]) -> str:
    """xxh3-128 hex digest of the size and the `sample_ranges` of the data.

    `read(offset, length)` returns those bytes (any buffer). Reads at most ~2.1 MiB, so a
    change outside the sampled ranges of a large output is found only by the full checksum.
    """
    hasher = _hasher()
    hasher.update(size.to_bytes(8, "little"))
    for offset, length in sample_ranges(size):
        hasher.update(read(offset, length))
    return hasher.hexdigest()


def full_checksum(data: Any) -> str:
    """xxh3-128 hex digest of the whole of `data` (any buffer)."""
    hasher = _hasher()
    hasher.update(data)
    return hasher.hexdigest()


def checksums(data: Any) -> tuple[str, str]:
    """The sampled and the full checksum of the buffer `data`."""
    view = memoryview(data)
    sampled = sampled_checksum(len(view), lambda offset, n: view[offset : offset + n])
    return sampled, full_checksum(view)


def missing(reason: str) -> Assessment:
    return Assessment(status=OutputStatus.MISSING, reason=reason)


def corrupt(record: StoredOutput, reason: str) -> Assessment:
    return Assessment(status=OutputStatus.CORRUPT, reason=reason, record=record)


def read_sidecar(key: str, sidecar: bytes | None) -> StoredOutput | Assessment:
    """The record in `key`'s sidecar content, or a MISSING assessment if there is none."""
    if sidecar is None:
        return missing("no sidecar")
    try:
        return unpack_sidecar(sidecar, key)
    except ValueError as error:
        return missing(str(error))


def assess(
    record: StoredOutput, size: int, read: Callable[[int, int], Any], source: Any
) -> Assessment:
    """PRESENT if data of `size` bytes read by `read` matches `record`'s size and sampled
    checksum and, for an Arrow output, `source` opens as an Arrow IPC file; else CORRUPT with
    the reason."""
    reason = None
    if size != record.bytes:
        reason = f"size is {size} bytes, the sidecar says {record.bytes}"
    elif sampled_checksum(size, read) != record.checksum:
        reason = "sampled checksum differs from the sidecar's"
    elif record.serializer == ARROW:
        try:
            pa.ipc.open_file(source)
        except pa.ArrowInvalid as error:
            reason = f"not an Arrow IPC file: {error}"
    if reason is not None:
        return corrupt(record, reason)
    return Assessment(status=OutputStatus.PRESENT, record=record)


def assess_buffer(record: StoredOutput, data: Any) -> Assessment:
    """`assess` of data held in the buffer `data`."""
    view = memoryview(data)
    return assess(record, len(view), lambda offset, length: view[offset : offset + length], data)


class HashingSink:
    """A writable binary stream of known total size that passes what is written to `write`
    and computes the full and sampled checksums of it.

    Outputs of at least 4 MiB are hashed by a thread of their own that keeps a reference to
    each written buffer until it is hashed: the writer must not modify data after writing
    it (pyarrow's IPC writer and `bytes` payloads do not). Use as a context manager, which
    stops that thread, and call `finish` once everything is written.
    """

    def __init__(self, size: int, write: Callable[[memoryview], object]) -> None:
        self._size = size
        self._write = write
        self._full = _hasher()
        self._sampled = _hasher()
        self._sampled.update(size.to_bytes(8, "little"))
        self._ranges = sample_ranges(size)
        self._next_range = 0
        self._hashed = 0
        self._queue: queue.SimpleQueue[Any] | None = None
        self._thread: threading.Thread | None = None
        if size >= _THREADED_SIZE:
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._hash_queued, args=(self._queue,))
            self._thread.start()

    def __enter__(self) -> HashingSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    @property
    def closed(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._write(view)
        if self._queue is None:
            self._hash(view)
        else:
            # Small writes may come from buffers the writer reuses: hash a copy of them.
            self._queue.put(view if len(view) >= _SHARED_WRITE else bytes(view))
        return len(view)

    def _hash_queued(self, written: queue.SimpleQueue[Any]) -> None:
        while (data := written.get()) is not None:
            self._hash(memoryview(data))

    def _hash(self, view: memoryview) -> None:
        self._full.update(view)
        start, end = self._hashed, self._hashed + len(view)
        self._hashed = end
        while self._next_range < len(self._ranges):
            offset, length = self._ranges[self._next_range]
            if offset >= end:
                return
            low, high = max(start, offset), min(end, offset + length)
            if low < high:
                self._sampled.update(view[low - start : high - start])
            if offset + length > end:
                return
            self._next_range += 1

    def _stop(self) -> None:
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self) -> tuple[str, str]:
        """The sampled and the full checksum of everything written."""
        self._stop()
        if self._hashed != self._size:
            raise RuntimeError(f"wrote {self._hashed} bytes, expected {self._size}")
        return self._sampled.hexdigest(), self._full.hexdigest()
