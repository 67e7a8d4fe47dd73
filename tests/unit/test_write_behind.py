"""Write-behind persistence: outputs are invisible until the run commits them."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.write_behind import OutputWriter

WHERE = {"run_id": "r1", "step": "s", "output": "result"}
SMALL, LARGE = "ab" * 32, "cd" * 32


@pytest.fixture
def stores(tmp_path):
    writer, reader = IntermediateStore(tmp_path), IntermediateStore(tmp_path)
    yield writer, reader
    writer.close()
    reader.close()


def _table(rows: int) -> pa.Table:
    return pa.table({"x": np.arange(rows, dtype=np.int64)})


@pytest.mark.parametrize("durability", ["run", "none"])
def test_outputs_are_visible_only_once_committed(stores, durability):
    store, reader = stores
    writer = OutputWriter(store, durability)
    small = writer.put(SMALL, {"a": 1}, **WHERE, known_missing=True)
    large = writer.put(LARGE, _table(1_000_000), **WHERE, known_missing=True)
    assert (small.key, small.serializer) == (SMALL, "msgpack")
    assert (large.key, large.serializer, large.bytes > 8_000_000) == (LARGE, "arrow", True)
    assert reader.committed([SMALL, LARGE]) == set()
    assert writer.commit() == []
    assert reader.committed([SMALL, LARGE]) == {SMALL, LARGE}
    assert reader.get(LARGE).num_rows == 1_000_000 and reader.get(SMALL) == {"a": 1}


def test_discarded_outputs_leave_no_files(stores, tmp_path):
    store, reader = stores
    writer = OutputWriter(store, "run")
    writer.put(LARGE, _table(100_000), **WHERE, known_missing=True)
    writer.discard()
    assert reader.committed([LARGE]) == set()
    assert not [name for _, _, names in os.walk(tmp_path) for name in names if ".tmp" in name]


def test_step_durability_stores_at_once(stores):
    store, reader = stores
    writer = OutputWriter(store, "step")
    writer.put(LARGE, _table(10), **WHERE, known_missing=True)
    assert reader.committed([LARGE]) == {LARGE}


def test_an_output_stored_meanwhile_is_kept(stores):
    store, reader = stores
    writer = OutputWriter(store, "run")
    writer.put(LARGE, _table(10), **WHERE, known_missing=True)
    reader.put(LARGE, _table(20), **WHERE)
    assert writer.commit() == []
    assert reader.get(LARGE).num_rows == 20


def test_a_dataset_written_through_the_writer_by_table_is_stored(stores):
    """A value whose engine cannot write its dataset (Spark without S3A) is written as an
    Arrow table through whatever stores the step's outputs, the writer included."""
    store, reader = stores
    writer = OutputWriter(store, "run")
    table = _table(10)
    key = "ef" * 32
    record = writer.put_dataset(
        key, lambda location: writer.write_table(location, table), python_type="x", **WHERE
    )
    assert record.rows == 10
    assert reader.get(key).to_arrow().equals(table)
