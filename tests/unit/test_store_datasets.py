"""Parquet dataset outputs in the intermediate store (written here by pyarrow in place of Spark)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import fsspec
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.engine.store.codec_registry import codec_for_class
from solidflow.engine.store.datasets import STORED_DATASET_CODEC, StoredDataset

KEY = "ab" * 16
PARTS = [pa.table({"id": [1, 2, 3], "k": ["a", "b", "a"]}), pa.table({"id": [4], "k": ["c"]})]


def write_parts(location: str) -> None:
    """What Spark does: a directory of part files and a _SUCCESS marker."""
    fs, path = fsspec.core.url_to_fs(location)
    fs.makedirs(path, exist_ok=True)
    for index, part in enumerate(PARTS):
        pq.write_table(part, f"{path}/part-{index:05d}.parquet", filesystem=fs)
    fs.pipe_file(f"{path}/_SUCCESS", b"")


def put(store: IntermediateStore, produce=write_parts, key: str = KEY):
    return store.put_dataset(
        key, produce, python_type="pyspark.sql.DataFrame", run_id="r1", step="s", output="result"
    )


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path: Path) -> IntermediateStore:
    if request.param == "local":
        return IntermediateStore(tmp_path / "store")
    return IntermediateStore(f"memory://datasets-{uuid.uuid4().hex}")


def test_a_dataset_is_stored_with_rows_schema_and_size(store: IntermediateStore) -> None:
    record = put(store)
    assert record.serializer == "parquet"
    assert record.rows == 4
    assert record.schema == "id: int64\nk: string"
    loaded = store.get(KEY)
    assert isinstance(loaded, StoredDataset)
    assert loaded.to_arrow().sort_by("id").equals(pa.concat_tables(PARTS))
    assert loaded.to_pandas()["id"].sum() == 10
    assert loaded.load_as(pd.DataFrame)["id"].sum() == 10
    assert loaded.python_type == "pyspark.sql.DataFrame"
    assert store.check([KEY]) == {KEY: (OutputStatus.PRESENT, None)}
    assert store.verify(KEY) == (OutputStatus.PRESENT, None)
    assert [stored.key for stored in store.list()] == [KEY]


def test_a_dataset_written_again_replaces_the_stored_one_which_stays_whole_beside_it(
    store: IntermediateStore,
) -> None:
    first = put(store)
    earlier = store.get(KEY)
    grown = pa.table({"id": list(range(20)), "k": ["z"] * 20})

    def write_grown(location: str) -> None:
        fs, path = fsspec.core.url_to_fs(location)
        fs.makedirs(path, exist_ok=True)
        pq.write_table(grown, f"{path}/part-00000.parquet", filesystem=fs)

    second = put(store, produce=write_grown)
    assert second.location != first.location and second.rows == 20
    assert store.get(KEY).to_arrow().equals(grown)
    assert store.verify(KEY) == (OutputStatus.PRESENT, None)
    assert earlier.to_arrow().sort_by("id").equals(pa.concat_tables(PARTS))  # a reader of before
    [copy] = store.superseded()
    assert copy.key == KEY and copy.since == second.created
    assert store.collect_superseded(before=second.created) == 0  # a run may still read it
    assert store.collect_superseded(before=time.time() + 1, dry_run=True) == first.bytes
    assert store.superseded() == [copy]
    assert store.collect_superseded(before=time.time() + 1) == first.bytes
    assert store.superseded() == []
    assert store.get(KEY).to_arrow().equals(grown)


def test_delete_removes_every_copy_of_a_dataset(store: IntermediateStore) -> None:
    first, second = put(store), put(store)
    assert store.delete(KEY) > first.bytes + second.bytes
    assert store.superseded() == []
    assert store.check([KEY])[KEY][0] is OutputStatus.MISSING


def test_a_failed_write_stores_nothing_and_leaves_no_temporary_files(
    tmp_path: Path,
) -> None:
    store = IntermediateStore(tmp_path / "store")

    def half_then_crash(location: str) -> None:
        os.makedirs(location)
        pq.write_table(PARTS[0], f"{location}/part-00000.parquet")
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError, match="executor lost"):
        put(store, produce=half_then_crash)
    assert store.check([KEY])[KEY][0] is OutputStatus.MISSING
    assert _files(tmp_path) == []
    assert put(store).rows == 4  # a later attempt succeeds


def _files(tmp_path: Path) -> list[str]:
    """The names of the store's files and directories but its locks."""
    return [p.name for p in (tmp_path / "store").rglob("*") if p.name != ".lock" and p.is_file()]


def _dataset_dir(tmp_path: Path) -> Path:
    [directory] = (tmp_path / "store" / KEY[:2]).glob(f"{KEY}*.parquet")
    return directory


def test_a_dataset_missing_a_file_is_corrupt_then_replaced(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path / "store")
    put(store)
    (_dataset_dir(tmp_path) / "part-00001.parquet").unlink()
    status, reason = store.check([KEY])[KEY]
    assert status is OutputStatus.CORRUPT
    assert "bytes" in reason
    assert put(store).rows == 4
    assert store.check([KEY])[KEY][0] is OutputStatus.PRESENT


def test_changed_content_of_the_same_size_is_never_served(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path / "store")
    put(store)
    assert store.check([KEY])[KEY][0] is OutputStatus.PRESENT  # verified when it was written
    part = _dataset_dir(tmp_path) / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    corrupt = (OutputStatus.CORRUPT, "full checksum differs from the sidecar's")
    assert store.check([KEY])[KEY] == corrupt
    assert store.verify(KEY) == corrupt


def test_a_dataset_without_its_directory_is_missing(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path / "store")
    put(store)
    for path in sorted(_dataset_dir(tmp_path).iterdir()):
        path.unlink()
    _dataset_dir(tmp_path).rmdir()
    assert store.check([KEY])[KEY] == (OutputStatus.MISSING, "no dataset directory")


def test_delete_removes_the_directory_and_reports_its_size(store: IntermediateStore) -> None:
    record = put(store)
    freed = store.delete(KEY)
    assert freed > record.bytes  # the data and the sidecar
    assert store.check([KEY])[KEY][0] is OutputStatus.MISSING
    assert store.list() == []


def test_spark_urls_of_store_locations() -> None:
    from solidflow.integrations.spark.paths import spark_url

    assert spark_url("/data/store/ab") == "file:///data/store/ab"
    assert spark_url("s3://bucket/store/ab") == "s3a://bucket/store/ab"
    assert spark_url("gcs://bucket/ab") == "gs://bucket/ab"
    assert spark_url("hdfs://nn:8020/ab") == "hdfs://nn:8020/ab"


def test_a_failed_sidecar_commit_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    store = IntermediateStore(tmp_path / "store")
    replace = os.replace

    def failing_for_sidecars(source: str, destination: str) -> None:
        if str(destination).endswith(".meta"):
            raise OSError("disk full")
        replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_for_sidecars)
    with pytest.raises(OSError, match="disk full"):
        put(store)
    monkeypatch.undo()
    assert _files(tmp_path) == []
    assert store.check([KEY])[KEY][0] is OutputStatus.MISSING


def test_the_codecs_name_the_stored_dataset_and_table_classes_by_their_real_names() -> None:
    assert codec_for_class(StoredDataset) is STORED_DATASET_CODEC
    assert codec_for_class(pa.Table).python_type == "pyarrow.Table"


def test_a_dataset_loads_as_each_class_whose_codec_reads_datasets(
    store: IntermediateStore,
) -> None:
    put(store)
    loaded = store.get(KEY)
    expected = pa.concat_tables(PARTS)
    assert loaded.load_as(StoredDataset) is loaded
    assert loaded.load_as(pa.Table).sort_by("id").equals(expected)
    assert loaded.load_as(pl.DataFrame).sort("id").rows() == [
        (1, "a"),
        (2, "b"),
        (3, "a"),
        (4, "c"),
    ]
    assert loaded.load_as(pd.DataFrame).sort_values("id")["k"].tolist() == ["a", "b", "a", "c"]
