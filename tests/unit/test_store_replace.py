"""A write that replaces (a run without memoization): the new output takes the place of the
stored one atomically, in every form an output is stored in."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pytest

from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.engine.store.local import PACK_LIMIT
from solidflow.engine.store.records import WHOLE_LIMIT
from solidflow.engine.store.verified import is_verified, marker_path
from solidflow.engine.store.write_behind import OutputWriter

FIRST = {"run_id": "run-1", "step": "make", "output": "result"}
SECOND = {"run_id": "run-2", "step": "make", "output": "result"}
BIG = b"x" * (PACK_LIMIT + 1)
KEY = hashlib.sha256(b"replaced").hexdigest()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[IntermediateStore, IntermediateStore]]:
    """A writer and a reader (another store object: what another process sees)."""
    writer, reader = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    yield writer, reader
    writer.close()
    reader.close()


def _files(root: Path) -> list[str]:
    return sorted(path.name for path in (root / KEY[:2]).glob(f"{KEY}*"))


@pytest.mark.parametrize(
    ("old", "new"),
    [(1, 2), (1, BIG), (BIG, 2), (BIG, BIG + b"y"), (pa.table({"a": [1]}), b"z" * 10)],
    ids=["packed-packed", "packed-file", "file-packed", "file-file", "arrow-packed"],
)
def test_a_replacing_put_takes_the_place_of_the_stored_output(
    stores: tuple[IntermediateStore, IntermediateStore], tmp_path: Path, old: object, new: object
) -> None:
    writer, reader = stores
    writer.put(KEY, old, **FIRST)
    writer.flush()
    ignored = writer.put(KEY, new, **SECOND)
    assert ignored.run_id == "run-1"  # without replace, the stored output is kept
    stored = writer.put(KEY, new, **SECOND, replace=True)
    writer.flush()
    assert stored.run_id == "run-2"
    assert reader.get(KEY) == new
    assert reader.info(KEY).run_id == "run-2"  # type: ignore[union-attr]
    assert [record.run_id for record in reader.list()] == ["run-2"]
    file_output = isinstance(new, bytes) and len(new) > PACK_LIMIT
    assert _files(tmp_path) == ([f"{KEY}.bin", f"{KEY}.meta"] if file_output else [])
    assert reader.delete(KEY) > 0 and reader.info(KEY) is None


def test_a_replaced_packed_output_stays_until_the_flush(
    stores: tuple[IntermediateStore, IntermediateStore],
) -> None:
    writer, reader = stores
    writer.put(KEY, 1, **FIRST)
    writer.flush()
    writer.put(KEY, 2, **SECOND, replace=True)
    assert writer.get(KEY) == 2 and reader.get(KEY) == 1
    writer.flush()
    assert reader.get(KEY) == 2


def test_a_reader_of_the_replaced_data_keeps_it_whole(
    stores: tuple[IntermediateStore, IntermediateStore],
) -> None:
    writer, reader = stores
    old = pa.table({"x": np.arange(2 * WHOLE_LIMIT // 8, dtype=np.int64)})
    first = writer.put(KEY, old, **FIRST)
    mapped = reader.get(KEY)  # memory-mapped: verified in full, then marked
    assert is_verified(first.location, first.full_checksum)
    new = pa.table({"x": np.arange(2 * WHOLE_LIMIT // 8, dtype=np.int64) * 3})
    second = writer.put(KEY, new, **SECOND, replace=True)
    assert second.location == first.location
    assert mapped.equals(old)  # the old inode, still mapped
    assert reader.get(KEY).equals(new)
    # The marker vouches for the new file only: not for the data it replaced.
    assert not is_verified(first.location, first.full_checksum)
    assert is_verified(second.location, second.full_checksum)


def test_a_marker_of_the_replaced_data_never_vouches_for_the_new(
    stores: tuple[IntermediateStore, IntermediateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = stores
    size = 2 * WHOLE_LIMIT // 8
    first = writer.put(KEY, pa.table({"x": np.arange(size, dtype=np.int64)}), **FIRST)
    reader.get(KEY)
    marker = Path(marker_path(first.location)).read_bytes()
    # The writer does not mark what it replaced with: only a reader's full check does.
    monkeypatch.setattr("solidflow.engine.store.output_files.mark_verified", lambda *a: None)
    second = writer.put(
        KEY, pa.table({"x": np.zeros(size, dtype=np.int64)}), **SECOND, replace=True
    )
    Path(marker_path(first.location)).write_bytes(marker)  # the old marker, put back
    with open(second.location, "r+b") as file:  # damage the sampled checks miss
        file.seek(WHOLE_LIMIT + 12_345)
        file.write(b"\xff")
    assert reader.check([KEY])[KEY][0] is OutputStatus.CORRUPT


def test_a_replacing_output_of_the_write_behind_writer_lands_at_the_commit(
    stores: tuple[IntermediateStore, IntermediateStore],
) -> None:
    store, reader = stores
    large = pa.table({"x": np.arange(100_000, dtype=np.int64)})
    other = hashlib.sha256(b"small").hexdigest()
    store.put(KEY, large, **FIRST)
    store.put(other, {"a": 1}, **FIRST)
    store.flush()
    writer = OutputWriter(store, "run")
    writer.put(KEY, large.slice(0, 10), **SECOND, replace=True)
    writer.put(other, {"a": 2}, **SECOND, replace=True)
    assert reader.get(KEY).num_rows == 100_000 and reader.get(other) == {"a": 1}
    assert writer.commit() == []
    assert reader.get(KEY).num_rows == 10 and reader.get(other) == {"a": 2}


def test_a_replacing_put_on_fsspec() -> None:
    root = f"memory://store-tests/{uuid.uuid4().hex}"
    store = IntermediateStore(root)
    try:
        store.put(KEY, pa.table({"a": [1]}), **FIRST)
        store.put(KEY, b"bytes now", **SECOND, replace=True)
        assert store.get(KEY) == b"bytes now"
        assert store.info(KEY).run_id == "run-2"  # type: ignore[union-attr]
        fs, path = fsspec.core.url_to_fs(root)
        assert sorted(os.path.basename(p) for p in fs.ls(f"{path}/{KEY[:2]}", detail=False)) == [
            f"{KEY}.bin",
            f"{KEY}.meta",
        ]
    finally:
        fs, path = fsspec.core.url_to_fs(root)
        fs.rm(path, recursive=True)


def test_a_reader_never_finds_an_output_being_replaced_damaged(tmp_path: Path) -> None:
    """Another process replaces a file output again and again: every load finds it whole,
    the old one or the new one (never the old sidecar with the new data)."""
    size = 200_000
    writer = textwrap.dedent(
        f"""
        from solidflow.engine.store import IntermediateStore

        store = IntermediateStore({str(tmp_path)!r})
        for i in range(1, 200):
            value = bytes([i % 251]) * {size}
            store.put({KEY!r}, value, run_id=f"r{{i}}", step="s", output="o", replace=True)
        store.close()
        """
    )
    store = IntermediateStore(tmp_path)
    store.put(KEY, bytes(size), **FIRST)
    replacing = subprocess.Popen([sys.executable, "-c", writer])
    loads = 0
    try:
        while replacing.poll() is None:
            value = store.get(KEY)  # OutputCorrupt if it found the halves of two outputs
            assert len(value) == size and value == value[:1] * size
            loads += 1
    finally:
        replacing.wait(60)
        store.close()
    assert replacing.returncode == 0 and loads > 20
