from __future__ import annotations

import dataclasses
import datetime
import gc
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from solidflow.engine.store import (
    IntermediateStore,
    OutputCorrupt,
    OutputMissing,
    OutputStatus,
    StoredOutput,
    StoreError,
)
from solidflow.engine.store.local import PACK_LIMIT, PENDING_LIMIT
from solidflow.engine.store.records import (
    SAMPLE_BLOCK,
    WHOLE_LIMIT,
    full_checksum,
    pack_sidecar,
    sample_ranges,
    sampled_checksum,
)

PRESENT, MISSING, CORRUPT = OutputStatus.PRESENT, OutputStatus.MISSING, OutputStatus.CORRUPT
ORIGIN = {"run_id": "run-1", "step": "make", "output": "result"}


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.fixture
def local(tmp_path: Path) -> Iterator[IntermediateStore]:
    store = IntermediateStore(str(tmp_path / "store"))
    yield store
    store.close()


@pytest.fixture(params=["local", "memory", "s3"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IntermediateStore]:
    if request.param == "local":
        root = str(tmp_path / "store")
    elif request.param == "memory":
        root = f"memory://store-tests/{uuid.uuid4().hex}"
    else:  # credentials and endpoint from the environment, as AWS clients take them
        for name, value in request.getfixturevalue("s3_server").environment.items():
            monkeypatch.setenv(name, value)
        root = request.getfixturevalue("s3_root")
    store = IntermediateStore(root)
    yield store
    store.close()
    fs, path = fsspec.core.url_to_fs(root)
    if request.param == "memory" and fs.exists(path):
        fs.rm(path, recursive=True)


def read_data(location: str) -> bytes:
    with fsspec.open(location, "rb") as file:
        return file.read()


def write_data(location: str, data: bytes) -> None:
    with fsspec.open(location, "wb") as file:
        file.write(data)


def remove(location: str) -> None:
    fs, path = fsspec.core.url_to_fs(location)
    fs.rm(path)


def sidecar_location(record: StoredOutput) -> str:
    return f"{record.location.rsplit('/', 1)[0]}/{record.key}.meta"


def assert_same(loaded: Any, value: Any) -> None:
    assert type(loaded) is type(value)
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        assert loaded.equals(value)
        assert loaded.schema.equals(value.schema)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(loaded, value)
    elif isinstance(value, np.ndarray):
        assert loaded.dtype == value.dtype
        assert loaded.shape == value.shape
        assert np.array_equal(loaded, value)
    elif isinstance(value, (list, tuple)):
        assert len(loaded) == len(value)
        for loaded_item, item in zip(loaded, value, strict=True):
            assert_same(loaded_item, item)
    elif isinstance(value, dict):
        assert list(loaded) == list(value)
        for name in value:
            assert_same(loaded[name], value[name])
    else:
        assert loaded == value


def _table() -> pa.Table:
    first = pa.table({"n": [1, 2, None], "s": ["a", "b", "c"], "l": [[1], [], [2, 3]]})
    return pa.concat_tables([first, first.slice(1)])


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.5],
            "s": ["x", "y", None],
            "c": pd.Categorical(["a", "b", "a"]),
            "t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )


# (id, value, serializer)
ROUND_TRIPS = [
    ("table", _table(), "arrow"),
    ("record_batch", pa.record_batch({"a": [1.5, 2.5], "b": ["x", None]}), "arrow"),
    ("empty_record_batch", pa.record_batch({"a": pa.array([], pa.int64())}), "arrow"),
    ("pandas", _frame(), "arrow"),
    ("pandas_default_index", pd.DataFrame({"a": [1, 2]}), "arrow"),
    ("numpy_3d_int16", np.arange(24, dtype=np.int16).reshape(2, 3, 4), "arrow"),
    ("numpy_fortran_float32", np.asfortranarray(np.ones((3, 5), np.float32))[:, ::2], "arrow"),
    ("numpy_0d", np.array(3.25), "arrow"),
    ("numpy_empty_uint8", np.zeros((0, 3), np.uint8), "arrow"),
    ("numpy_bool", np.array([[True, False], [False, True]]), "arrow"),
    ("numpy_float16", np.linspace(0, 1, 7, dtype=np.float16), "arrow"),
    ("numpy_uint64", np.array([0, 2**64 - 1], np.uint64), "arrow"),
    ("none", None, "msgpack"),
    ("bool", True, "msgpack"),
    ("int", -(2**63), "msgpack"),
    ("uint64", 2**64 - 1, "msgpack"),
    ("float", float("inf"), "msgpack"),
    ("str", "héllo", "msgpack"),
    ("bytes", b"\x00\xff", "bytes"),
    ("empty_bytes", b"", "bytes"),
    ("bytearray", bytearray(b"\x00\xff"), "bytes"),
    ("memoryview", memoryview(b"\x00\xff"), "bytes"),
    ("strided_memoryview", memoryview(b"abcdef")[::2], "bytes"),
    ("big_bytearray", bytearray(os.urandom(100_000)), "bytes"),
    ("big_memoryview", memoryview(os.urandom(5_000_000)), "bytes"),
    ("nested", [1, "a", None, [2.5, {"k": b"v", "t": [True, False]}]], "msgpack"),
    ("dict", {"a": {"b": [1, 2]}, "c": {}}, "msgpack"),
    ("empty_list", [], "msgpack"),
    ("big_bytes", os.urandom(100_000), "bytes"),
    ("bytes_in_list", [b"\x00"], "msgpack"),
    ("big_list", list(range(40_000)), "msgpack"),
    ("tuple", (1, "a"), "pickle"),
    ("tuple_in_dict", {"k": (1, 2)}, "pickle"),
    ("tuple_in_list", [[(1,)]], "pickle"),
    ("int_beyond_64_bits", 2**64, "pickle"),
    ("negative_int_beyond_64_bits", -(2**63) - 1, "pickle"),
    ("int_dict_keys", {1: "a"}, "pickle"),
    ("numpy_scalar_in_dict", {"x": np.float64(1.5)}, "pickle"),
    ("surrogate", "\ud800", "pickle"),
    ("set", {1, 2, 3}, "pickle"),
    ("dataclass", Point(1, 2), "pickle"),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5), "pickle"),
    ("series", pd.Series([1, 2], name="s"), "pickle"),
    ("numpy_complex", np.array([1 + 2j]), "pickle"),
    ("numpy_big_endian", np.array([1, 2], dtype=">i4"), "pickle"),
    ("numpy_strings", np.array(["a", "bc"]), "pickle"),
    ("mixed_object_frame", pd.DataFrame({"o": [1, "a"]}), "pickle"),
    ("big_pickle", {"data": tuple(range(20_000))}, "pickle"),
]


@pytest.mark.parametrize(
    ("value", "serializer"),
    [pytest.param(value, serializer, id=name) for name, value, serializer in ROUND_TRIPS],
)
def test_round_trip(store: IntermediateStore, value: Any, serializer: str) -> None:
    stored = store.put(key("value"), value, **ORIGIN, lineage={"code": "v1", "inputs": []})
    assert stored.serializer == serializer
    assert stored.key == key("value")
    assert (stored.run_id, stored.step, stored.output) == ("run-1", "make", "result")
    assert stored.lineage == {"code": "v1", "inputs": []}
    assert_same(store.get(key("value")), value)
    assert store.info(key("value")) == stored
    store.flush()
    assert_same(store.get(key("value")), value)
    assert store.verify(key("value")) == (PRESENT, None)


def test_sidecar_describes_the_output(local: IntermediateStore) -> None:
    frame = _frame()
    stored = local.put(key("frame"), frame, **ORIGIN)
    assert stored.python_type == "pandas.DataFrame"
    assert stored.rows == 3
    assert re.search(r"^t: timestamp\[\w+, tz=Europe/Paris\]$", stored.schema, re.MULTILINE)
    assert stored.bytes == os.path.getsize(stored.location)
    assert stored.location.endswith(f"{key('frame')}.arrow")
    assert stored.full_checksum == full_checksum(read_data(stored.location))
    assert local.put(key("point"), Point(1, 2), **ORIGIN).python_type == (f"{__name__}.Point")
    assert local.put(key("list"), [1], **ORIGIN).python_type == "builtins.list"
    assert local.put(key("array"), np.zeros((4, 2)), **ORIGIN).rows == 4


def test_polars_round_trip(store: IntermediateStore) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"a": [1, 2, None], "b": ["x", "y", "z"]})
    assert store.put(key("polars"), frame, **ORIGIN).python_type == "polars.DataFrame"
    loaded = store.get(key("polars"))
    assert type(loaded) is pl.DataFrame
    assert loaded.equals(frame)


def test_encoding_imports_no_data_frame_library() -> None:
    code = (
        "import sys\n"
        "from solidflow.engine.store.serialization import encode\n"
        "encode({'a': [1]}); encode(object()); encode(b'x')\n"
        "assert 'pandas' not in sys.modules and 'polars' not in sys.modules, sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_arrays_load_without_a_copy(local: IntermediateStore) -> None:
    array = np.arange(1_000_000, dtype=np.float64).reshape(1000, 1000)
    local.put(key("array"), array, **ORIGIN)
    tracemalloc.start()
    try:
        loaded = local.get(key("array"))
        _, peak = tracemalloc.get_traced_memory()
        # The measure sees copies: numpy reports its allocations to tracemalloc.
        copy = loaded.copy()
        _, peak_with_copy = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert peak_with_copy >= array.nbytes
    assert not loaded.flags.writeable
    assert np.array_equal(loaded, array)
    assert np.array_equal(copy, array)


def test_invalid_keys_are_refused(local: IntermediateStore) -> None:
    for bad in ("", "a", "AB12", "../etc", "ab/cd", 12):
        with pytest.raises(ValueError, match="invalid output key"):
            local.put(bad, 1, **ORIGIN)  # type: ignore[arg-type]


def test_a_lineage_that_msgpack_cannot_store_is_refused(store: IntermediateStore) -> None:
    for i, value in enumerate((1, pa.table({"a": [1]}))):
        with pytest.raises(TypeError):
            store.put(key(f"v{i}"), value, **ORIGIN, lineage={"bad": object()})
    store.put(key("good"), 2, **ORIGIN)
    store.flush()
    assert store.check([key("v0"), key("v1"), key("good")]) == {
        key("v0"): (MISSING, "no sidecar"),
        key("v1"): (MISSING, "no sidecar"),
        key("good"): (PRESENT, None),
    }


def test_second_put_of_a_file_output_writes_nothing(local: IntermediateStore) -> None:
    table = pa.table({"a": [1, 2, 3]})
    first = local.put(key("t"), table, **ORIGIN)
    data, sidecar = os.stat(first.location), os.stat(sidecar_location(first))
    second = local.put(key("t"), pa.table({"a": [9]}), run_id="run-2", step="x", output="y")
    assert second == first
    for path, before in ((first.location, data), (sidecar_location(first), sidecar)):
        after = os.stat(path)
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
            before.st_ino,
            before.st_mtime_ns,
            before.st_size,
        )
    assert local.get(key("t")).equals(table)


def test_second_put_of_a_packed_output_writes_nothing(local: IntermediateStore) -> None:
    first = local.put(key("n"), 1, **ORIGIN)
    local.flush()
    db = first.location.removeprefix("packed:")
    query = "SELECT rowid, sidecar, data FROM outputs WHERE key = ?"
    with sqlite3.connect(db) as conn:
        row = conn.execute(query, (key("n"),)).fetchone()
    assert local.put(key("n"), 2, run_id="run-2", step="x", output="y") == first
    local.flush()
    with sqlite3.connect(db) as conn:
        assert conn.execute(query, (key("n"),)).fetchone() == row
    assert local.get(key("n")) == 1


BIG = b"x" * (PACK_LIMIT + 1)


@pytest.mark.parametrize(
    ("value", "later"),
    [(1, 2), (1, BIG), (BIG, 2), (BIG, BIG + b"y")],
    ids=["packed-packed", "packed-file", "file-packed", "file-file"],
)
def test_a_put_known_missing_never_replaces_an_output_stored_meanwhile(
    tmp_path: Path, value: Any, later: Any
) -> None:
    first, second = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    assert first.writes_guarded
    stored = first.put(key("n"), value, **ORIGIN)
    first.flush()
    second.put(key("n"), later, run_id="run-2", step="s", output="o", known_missing=True)
    second.flush()
    for store in (first, second):
        assert store.get(key("n")) == value
        assert store.info(key("n")) == stored
        store.close()
    rows = 0
    if (tmp_path / "packed.db").exists():
        with sqlite3.connect(tmp_path / "packed.db") as conn:
            query = "SELECT count(*) FROM outputs WHERE key = ?"
            (rows,) = conn.execute(query, (key("n"),)).fetchone()
    files = list(tmp_path.glob(f"{key('n')[:2]}/{key('n')}.*"))
    assert (rows, len(files)) == ((1, 0) if value == 1 else (0, 2))  # one copy, no orphan


def test_a_flush_and_a_file_write_racing_on_one_key_leave_one_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packer, filer = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    packer.put(key("n"), 1, **ORIGIN, known_missing=True)
    looked, writing = threading.Event(), threading.Event()
    look = packer._backend.files.with_sidecar

    def look_then_pause(keys: Any) -> set[str]:  # the flush has looked for files, not inserted
        found = look(keys)
        looked.set()
        writing.wait(5)
        time.sleep(0.2)  # long enough for the file write to reach its own check
        return found

    monkeypatch.setattr(packer._backend.files, "with_sidecar", look_then_pause)
    flush = threading.Thread(target=packer.flush)
    flush.start()
    assert looked.wait(5)
    writing.set()
    returned = filer.put(key("n"), BIG, run_id="run-2", step="s", output="o", known_missing=True)
    flush.join()
    assert returned == packer.info(key("n"))
    assert filer.get(key("n")) == 1
    assert not list(tmp_path.glob(f"{key('n')[:2]}/{key('n')}.*"))
    packer.close()
    filer.close()


def test_fsspec_looks_for_a_stored_output_even_when_told_it_is_missing() -> None:
    store = IntermediateStore(f"memory://store-tests/{uuid.uuid4().hex}")
    assert not store.writes_guarded
    first = store.put(key("t"), [1, 2], **ORIGIN)
    again = store.put(key("t"), [3], run_id="run-2", step="x", output="y", known_missing=True)
    assert again == first
    assert store.get(key("t")) == [1, 2]


def test_second_put_on_fsspec_returns_the_first(store: IntermediateStore) -> None:
    first = store.put(key("t"), [1, 2], **ORIGIN)
    assert store.put(key("t"), [3], run_id="run-2", step="x", output="y") == first
    assert store.get(key("t")) == [1, 2]


def test_local_arrow_get_is_memory_mapped(local: IntermediateStore) -> None:
    table = pa.table({"x": np.arange(50 * 2**20 // 8, dtype=np.float64)})
    stored = local.put(key("big"), table, **ORIGIN)
    gc.collect()
    before = pa.total_allocated_bytes()
    loaded = local.get(key("big"))
    assert pa.total_allocated_bytes() - before < 2**20
    assert loaded.equals(table)
    # The measure sees copies: reading the same file without a memory map allocates it.
    copied = pa.ipc.open_file(pa.OSFile(stored.location)).read_all()
    assert pa.total_allocated_bytes() - before >= table.nbytes
    del copied


_CRASHING_PUT = """
import os, signal, sys
import numpy as np
import pyarrow as pa
from solidflow.engine.store import IntermediateStore, records

root, key, moment = sys.argv[1:]
if moment == "mid-data":
    write = records.HashingSink.write
    total = 0
    def crash_after_1_mb(self, data):
        global total
        total += write(self, data)
        if total > 2**20:
            os.kill(os.getpid(), signal.SIGKILL)
        return total
    records.HashingSink.write = crash_after_1_mb
else:
    rename = os.replace
    def crash_after_data_rename(src, dst):
        rename(src, dst)
        if dst.endswith(".arrow"):
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = crash_after_data_rename
table = pa.table({f"c{i}": np.arange(125_000) for i in range(8)})
IntermediateStore(root).put(key, table, run_id="r", step="s", output="o")
"""


@pytest.mark.parametrize("moment", ["mid-data", "before-sidecar"])
def test_a_crash_mid_write_leaves_the_output_missing(tmp_path: Path, moment: str) -> None:
    root, output_key = str(tmp_path / "store"), key("crash")
    result = subprocess.run([sys.executable, "-c", _CRASHING_PUT, root, output_key, moment])
    assert result.returncode == -signal.SIGKILL
    directory = os.path.join(root, output_key[:2])
    files = {name: os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory)}
    if moment == "mid-data":
        [partial] = [size for name, size in files.items() if name.endswith(".data.tmp")]
        assert 2**20 < partial < 8_000_000
        assert f"{output_key}.arrow" not in files
    else:
        assert files[f"{output_key}.arrow"] > 8_000_000
    assert f"{output_key}.meta" not in files
    store = IntermediateStore(root)
    assert store.check([output_key]) == {output_key: (MISSING, "no sidecar")}
    with pytest.raises(OutputMissing, match=output_key):
        store.get(output_key)
    table = pa.table({f"c{i}": np.arange(125_000) for i in range(8)})
    store.put(output_key, table, **ORIGIN)
    assert store.get(output_key).equals(table)


def test_a_data_file_without_sidecar_is_missing(local: IntermediateStore) -> None:
    stored = local.put(key("t"), pa.table({"a": [1]}), **ORIGIN)
    os.unlink(sidecar_location(stored))
    assert local.check([key("t")])[key("t")][0] is MISSING
    assert local.info(key("t")) is None
    assert local.verify(key("t"))[0] is MISSING


def test_a_missing_sidecar_or_data_file_is_missing(store: IntermediateStore) -> None:
    remove(sidecar_location(store.put(key("a"), b"x" * 100_000, **ORIGIN)))
    assert store.check([key("a")]) == {key("a"): (MISSING, "no sidecar")}
    with pytest.raises(OutputMissing, match=key("a")):
        store.get(key("a"))
    stored = store.put(key("b"), pa.table({"a": [1]}), **ORIGIN)
    remove(stored.location)
    assert store.check([key("b")]) == {key("b"): (MISSING, "no data file")}


def test_an_unreadable_sidecar_is_missing(store: IntermediateStore) -> None:
    stored = store.put(key("a"), pa.table({"a": [1]}), **ORIGIN)
    write_data(sidecar_location(stored), b"\xc1 not msgpack")
    status, reason = store.check([key("a")])[key("a")]
    assert status is MISSING
    assert "unreadable sidecar" in reason
    with pytest.raises(StoreError):
        store.get(key("a"))


def test_a_truncated_file_is_corrupt_and_replaced_by_the_next_put(
    store: IntermediateStore,
) -> None:
    table = pa.table({"x": np.arange(10_000)})
    stored = store.put(key("t"), table, **ORIGIN)
    write_data(stored.location, read_data(stored.location)[:-100])
    status, reason = store.check([key("t")])[key("t")]
    assert status is CORRUPT
    assert f"size is {stored.bytes - 100} bytes" in reason
    with pytest.raises(OutputCorrupt, match=key("t")):
        store.get(key("t"))
    store.put(key("t"), table, **ORIGIN)
    assert store.check([key("t")]) == {key("t"): (PRESENT, None)}
    assert store.get(key("t")).equals(table)


def test_flipped_bytes_in_a_small_file_are_corrupt(store: IntermediateStore) -> None:
    stored = store.put(key("t"), pa.table({"x": np.arange(10_000)}), **ORIGIN)
    data = bytearray(read_data(stored.location))
    data[len(data) // 2] ^= 0xFF
    write_data(stored.location, bytes(data))
    status, reason = store.check([key("t")])[key("t")]
    assert status is CORRUPT
    assert "checksum" in reason
    with pytest.raises(OutputCorrupt):
        store.get(key("t"))
    assert store.verify(key("t"))[0] is CORRUPT


def test_the_cheap_check_of_an_object_store_samples_large_files_and_verify_reads_all() -> None:
    store = IntermediateStore(f"memory://store-tests/{uuid.uuid4().hex}")
    table = pa.table({"x": np.arange(2_000_000, dtype=np.int64)})
    stored = store.put(key("t"), table, **ORIGIN)
    assert stored.bytes > WHOLE_LIMIT
    ranges = sample_ranges(stored.bytes)
    assert len(ranges) == 34
    assert sum(length for _, length in ranges) == 34 * SAMPLE_BLOCK
    unsampled = ranges[16][0] + SAMPLE_BLOCK + 1000
    assert unsampled + 1 < ranges[17][0]
    original = read_data(stored.location)
    data = bytearray(original)
    data[unsampled] ^= 0xFF
    write_data(stored.location, bytes(data))
    # A change between the sampled blocks passes the cheap check; verify finds it (and, as
    # it read the whole output, deletes it). A local store finds it in the cheap check too,
    # see test_store_verification.py.
    assert store.check([key("t")]) == {key("t"): (PRESENT, None)}
    status, reason = store.verify(key("t"))
    assert (status, reason.split(";")[0]) == (CORRUPT, "full checksum differs from the sidecar's")
    store.put(key("t"), table, **ORIGIN)
    data = bytearray(original)
    data[ranges[16][0] + 10] ^= 0xFF
    write_data(stored.location, bytes(data))
    assert store.check([key("t")])[key("t")][0] is CORRUPT


def test_data_that_is_not_arrow_ipc_is_corrupt(store: IntermediateStore) -> None:
    stored = store.put(key("t"), pa.table({"a": [1]}), **ORIGIN)
    garbage = b"not an arrow file at all" * 10
    write_data(stored.location, garbage)
    forged = dataclasses.replace(
        stored,
        bytes=len(garbage),
        checksum=sampled_checksum(len(garbage), lambda offset, n: garbage[offset : offset + n]),
        full_checksum=full_checksum(garbage),
    )
    write_data(sidecar_location(stored), pack_sidecar(forged))
    status, reason = store.check([key("t")])[key("t")]
    assert status is CORRUPT
    assert reason.startswith("not an Arrow IPC file")


def test_packed_outputs_are_pending_until_flushed(local: IntermediateStore) -> None:
    other = IntermediateStore(local.root)
    try:
        stored = local.put(key("n"), {"a": [1, 2]}, **ORIGIN)
        assert stored.location == f"packed:{os.path.join(local.root, 'packed.db')}"
        assert local.get(key("n")) == {"a": [1, 2]}
        assert local.check([key("n")]) == {key("n"): (PRESENT, None)}
        assert local.info(key("n")) == stored
        assert other.check([key("n")])[key("n")][0] is MISSING
        local.flush()
        assert other.check([key("n")]) == {key("n"): (PRESENT, None)}
        assert other.get(key("n")) == {"a": [1, 2]}
        assert other.info(key("n")) == stored
    finally:
        other.close()


def test_uncommitted_and_committed_outputs(local: IntermediateStore) -> None:
    other = IntermediateStore(local.root)
    try:
        packed, big, absent = key("packed"), key("big"), key("absent")
        local.put(packed, 1, **ORIGIN)
        local.put(big, b"x" * (PACK_LIMIT + 1), **ORIGIN)  # a file: written at once
        assert local.uncommitted([packed, big, absent]) == [packed]
        assert other.uncommitted([packed, big, absent]) == []
        assert other.committed([packed, big, absent]) == {big}
        local.flush()
        assert local.uncommitted([packed, big]) == []
        assert other.committed([packed, big, absent]) == {packed, big}
    finally:
        other.close()


def test_outputs_on_fsspec_are_committed_at_once() -> None:
    store = IntermediateStore(f"memory://store-tests/{uuid.uuid4().hex}")
    store.put(key("n"), 1, **ORIGIN)
    assert store.uncommitted([key("n")]) == []
    assert IntermediateStore(store.root).committed([key("n"), key("absent")]) == {key("n")}


def test_packed_outputs_are_flushed_every_500_and_on_close(tmp_path: Path) -> None:
    writer, reader = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    keys = [key(f"n{i}") for i in range(PENDING_LIMIT + 1)]
    for i, output_key in enumerate(keys):
        writer.put(output_key, i, **ORIGIN)
    statuses = reader.check(keys)
    assert {statuses[k][0] for k in keys[:PENDING_LIMIT]} == {PRESENT}
    assert statuses[keys[-1]][0] is MISSING
    writer.close()
    assert reader.check([keys[-1]]) == {keys[-1]: (PRESENT, None)}
    assert [reader.get(k) for k in keys] == list(range(PENDING_LIMIT + 1))
    reader.close()


def test_packed_insert_keeps_the_first_stored(tmp_path: Path) -> None:
    first, second = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    first.put(key("n"), "first", run_id="run-a", step="s", output="o")
    second.put(key("n"), "second", run_id="run-b", step="s", output="o")
    first.flush()
    second.flush()
    for store in (first, second):
        assert store.get(key("n")) == "first"
        assert store.info(key("n")).run_id == "run-a"
        store.close()


def test_a_corrupt_packed_output_is_replaced_by_the_next_put(local: IntermediateStore) -> None:
    stored = local.put(key("n"), [1, 2, 3], **ORIGIN)
    local.flush()
    with sqlite3.connect(stored.location.removeprefix("packed:")) as conn:
        conn.execute("UPDATE outputs SET data = ? WHERE key = ?", (b"\x93\x01\x02\x04", key("n")))
    assert local.check([key("n")])[key("n")][0] is CORRUPT
    with pytest.raises(OutputCorrupt):
        local.get(key("n"))
    local.put(key("n"), [1, 2, 3], **ORIGIN)
    local.flush()
    reader = IntermediateStore(local.root)
    assert reader.check([key("n")]) == {key("n"): (PRESENT, None)}
    assert reader.get(key("n")) == [1, 2, 3]
    reader.close()


def test_check_reports_every_key(store: IntermediateStore) -> None:
    store.put(key("a"), 1, **ORIGIN)
    store.put(key("b"), pa.table({"a": [1]}), **ORIGIN)
    store.flush()
    assert store.check([key("a"), key("b"), key("c")]) == {
        key("a"): (PRESENT, None),
        key("b"): (PRESENT, None),
        key("c"): (MISSING, "no sidecar"),
    }
    assert store.check([]) == {}


def test_list_by_run_newest_first(store: IntermediateStore) -> None:
    values = [1, pa.table({"a": [1]}), b"x" * 100_000, (1, 2), np.zeros(3)]
    for i, value in enumerate(values):
        store.put(key(f"v{i}"), value, run_id=f"run-{i % 2}", step="s", output="o")
    listed = store.list()
    assert [record.key for record in listed] == [key(f"v{i}") for i in reversed(range(5))]
    assert [record.key for record in store.list(run_id="run-1")] == [key("v3"), key("v1")]
    store.flush()
    assert store.list() == listed
    assert store.list(run_id="run-9") == []


def test_delete_frees_data_and_sidecar(local: IntermediateStore) -> None:
    table = local.put(key("t"), pa.table({"a": [1]}), **ORIGIN)
    sizes = os.path.getsize(table.location) + os.path.getsize(sidecar_location(table))
    assert local.delete(key("t")) == sizes
    assert local.check([key("t")]) == {key("t"): (MISSING, "no sidecar")}
    assert not os.path.exists(table.location)
    packed = local.put(key("n"), 7, **ORIGIN)
    local.flush()
    assert local.delete(key("n")) == len(pack_sidecar(packed)) + packed.bytes
    assert local.check([key("n")])[key("n")][0] is MISSING
    local.put(key("p"), 8, **ORIGIN)
    assert local.delete(key("p")) == 1
    assert local.check([key("p")])[key("p")][0] is MISSING
    assert local.delete(key("t")) == 0
    assert local.list() == []


def test_delete_on_fsspec(store: IntermediateStore) -> None:
    stored = store.put(key("b"), b"x" * 100_000, **ORIGIN)
    store.flush()
    sidecar = len(read_data(sidecar_location(stored)))
    assert store.delete(key("b")) == stored.bytes + sidecar
    assert store.check([key("b")]) == {key("b"): (MISSING, "no sidecar")}
    assert store.delete(key("b")) == 0


def test_file_url_roots_are_local(tmp_path: Path) -> None:
    store = IntermediateStore(f"file://{tmp_path}")
    assert store.put(key("n"), 1, **ORIGIN).location.startswith("packed:")
    store.close()
    assert os.path.exists(tmp_path / "packed.db")


def test_the_default_backend_follows_the_root() -> None:
    from solidflow.engine.store.store import default_backend

    assert default_backend("/tmp/store") == "local"
    assert default_backend("file:///tmp/store") == "local"
    assert default_backend("memory://store") == "fsspec"
    assert default_backend("s3://bucket/prefix") == "s3"
