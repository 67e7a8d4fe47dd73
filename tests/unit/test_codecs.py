"""Codecs: the registered ones describe tables and data frames; a codec registered for a user
class stores, loads and describes its values (as Arrow data, as its own payload, or as a
dataset that inputs of other classes receive converted); codecs of installed distributions
are found without importing them by hand."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.codec_registry import (
    CODECS,
    codec_for_class,
    describe,
    register_codec,
)
from solidflow.engine.store.codecs import ARROW, Codec, Encoded
from solidflow.engine.store.datasets import StoredDataset
from solidflow.errors import DefinitionError
from tests.unit.test_registry import install_distribution

ORIGIN = {"run_id": "r1", "step": "s", "output": "result"}
KEY = "cd" * 16


# --- the integrations' codecs ----------------------------------------------------------------


def test_pyarrow_table_metadata() -> None:
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    metadata = describe(table)
    assert metadata["rows"] == 3
    assert metadata["columns"] == 2
    assert metadata["schema"] == "a: int64, b: string"
    assert metadata["bytes"] == table.nbytes


def test_pyarrow_record_batch_metadata() -> None:
    metadata = describe(pa.record_batch({"a": [1, 2]}))
    assert (metadata["rows"], metadata["columns"]) == (2, 1)


def test_pandas_dataframe_metadata() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": [True, False]})
    metadata = describe(frame)
    assert metadata["rows"] == 2
    assert metadata["columns"] == 3
    assert metadata["schema"] == "a: int64, b: float64, c: bool"


def test_plain_values_have_no_codec_and_no_description() -> None:
    assert codec_for_class(int) is None
    assert codec_for_class(dict) is None
    assert describe({"a": 1}) == {}


def test_typed_inputs_report_what_their_codec_describes(tmp_path: Path) -> None:
    @solid
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2, 3]})

    @solid
    def count(rows: pd.DataFrame) -> int:
        return len(rows)

    @solid
    def untyped(rows) -> int:
        return len(rows)

    @pipeline
    def counted():
        rows = frame()
        count(rows)
        untyped(rows)

    result = execute_pipeline(counted, instance=Instance(tmp_path / "home"))
    [typed] = [e for e in result.events if e.type is EventType.STEP_INPUT and e.step == "count"]
    assert typed.payload["metadata"] == {"rows": 3, "columns": 1, "schema": "a: int64"}
    [loose] = [e for e in result.events if e.type is EventType.STEP_INPUT and e.step == "untyped"]
    assert "metadata" not in loose.payload  # untyped values are not described, as before


# --- a codec for a user class ----------------------------------------------------------------


@dataclass(frozen=True)
class Readings:
    """A user class: the readings of one sensor."""

    sensor: str
    values: tuple[float, ...]


class ReadingsCodec(Codec):
    python_type = f"{__name__}.Readings"
    classes = (f"{__name__}.Readings",)

    def describe(self, value: Any) -> Mapping[str, Any]:
        return {"sensor": value.sensor, "count": len(value.values)}

    def encode(self, value: Any) -> Encoded | None:
        column = pa.array(value.values, pa.float64())
        table = pa.table({"values": column}, metadata={"sensor": value.sensor})
        return Encoded(
            serializer=ARROW, python_type=self.python_type, arrow=table, rows=len(column)
        )

    def decode(self, data: Any) -> Any:
        table = data.read_all()
        sensor = table.schema.metadata[b"sensor"].decode()
        return Readings(sensor, tuple(table.column("values").to_pylist()))


@contextlib.contextmanager
def registered(codec: Codec) -> Iterator[Codec]:
    register_codec(codec)
    try:
        yield codec
    finally:
        CODECS.unregister(codec.python_type)


@pytest.fixture
def readings_codec() -> Iterator[Codec]:
    with registered(ReadingsCodec()) as codec:
        yield codec


def test_a_codec_registered_for_a_user_class_stores_describes_and_loads_it(
    readings_codec: Codec, tmp_path: Path
) -> None:
    @solid
    def read() -> Readings:
        return Readings("north", (1.0, 2.5, 4.0))

    @solid
    def peak(readings: Readings) -> float:
        return max(readings.values)

    @pipeline
    def sensors():
        peak(read())

    instance = Instance(tmp_path / "home")
    first = execute_pipeline(sensors, instance=instance, memoize=True)
    assert first.success and first.output_for("peak") == 4.0
    [output] = [e for e in first.events if e.type is EventType.STEP_OUTPUT and e.step == "read"]
    assert output.payload["serializer"] == "arrow"
    assert output.payload["metadata"] == {"sensor": "north", "count": 3}
    stored = IntermediateStore(tmp_path / "home" / "storage").info(output.payload["key"])
    assert (stored.python_type, stored.rows) == (ReadingsCodec.python_type, 3)
    assert stored.location.endswith(".arrow")

    second = execute_pipeline(sensors, instance=instance, memoize=True)
    assert [e.step for e in second.events if e.type is EventType.STEP_START] == []
    assert second.output_for("read") == Readings("north", (1.0, 2.5, 4.0))


def test_without_its_codec_a_user_class_is_pickled(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path / "store")
    assert store.put(KEY, Readings("south", (1.0,)), **ORIGIN).serializer == "pickle"


class FractionCodec(Codec):
    """Fractions as text, in a payload of the codec's own serializer."""

    python_type = "fractions.Fraction"
    classes = ("fractions.Fraction",)

    def encode(self, value: Any) -> Encoded | None:
        return Encoded(
            serializer="fraction-text", python_type=self.python_type, payload=str(value).encode()
        )

    def decode(self, data: Any) -> Any:
        return Fraction(bytes(data).decode())


def test_a_codec_may_store_a_payload_of_its_own_serializer(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path / "store")
    with registered(FractionCodec()):
        stored = store.put(KEY, Fraction(3, 4), **ORIGIN)
        assert (stored.serializer, stored.bytes) == ("fraction-text", 3)
        store.flush()
        assert store.get(KEY) == Fraction(3, 4)
    with pytest.raises(ValueError, match=r"no codec loads outputs of type 'fractions\.Fraction'"):
        store.get(KEY)


# --- a user codec whose values are written as datasets ---------------------------------------


@dataclass(frozen=True)
class Parts:
    """A user class standing for a lazily computed table: its parts are written on storing."""

    parts: tuple[pa.Table, ...]


class PartsCodec(Codec):
    python_type = f"{__name__}.Parts"
    classes = (f"{__name__}.Parts",)
    writes_datasets = True

    def write_dataset(self, value: Any, location: str, label: str) -> Mapping[str, Any]:
        fs, path = fsspec.core.url_to_fs(location)
        fs.makedirs(path, exist_ok=True)
        for index, part in enumerate(value.parts):
            pq.write_table(part, f"{path}/part-{index:05d}.parquet", filesystem=fs)
        return {"parts": len(value.parts), "label": label}


@pytest.fixture
def parts_codec() -> Iterator[Codec]:
    with registered(PartsCodec()) as codec:
        yield codec


def test_values_written_as_datasets_feed_inputs_of_the_classes_that_read_datasets(
    parts_codec: Codec, tmp_path: Path
) -> None:
    @solid
    def produce() -> Parts:
        return Parts((pa.table({"x": [1, 2]}), pa.table({"x": [3]})))

    @solid
    def as_frame(frame: pd.DataFrame) -> int:
        return int(frame["x"].sum())

    @solid
    def as_anything(value) -> str:
        return type(value).__name__

    @solid
    def as_dataset(dataset: StoredDataset) -> int:
        return dataset.rows

    @pipeline
    def lazy():
        parts = produce()
        as_frame(parts)
        as_anything(parts)
        as_dataset(parts)

    result = execute_pipeline(lazy, instance=Instance(tmp_path / "home"))
    assert result.success
    assert result.output_for("as_frame") == 6
    assert result.output_for("as_anything") == "Table"  # the writer reads no datasets: Arrow
    assert result.output_for("as_dataset") == 3
    [output] = [e for e in result.events if e.type is EventType.STEP_OUTPUT and e.step == "produce"]
    assert output.payload["serializer"] == "parquet"
    assert output.payload["rows"] == 3
    assert output.payload["parts"] == 2
    assert output.payload["label"] == "solidflow: produce.result"


def test_values_written_as_datasets_cannot_feed_inputs_no_codec_reads_them_as(
    parts_codec: Codec,
) -> None:
    @solid
    def produce() -> Parts:
        return Parts(())

    @solid
    def count(value: int) -> int:
        return value

    with pytest.raises(DefinitionError, match="output 'result' of solid 'produce' is Parts"):

        @pipeline
        def wrong():
            count(produce())


# --- codecs of installed distributions -------------------------------------------------------

POINT_MODULE = """
from solidflow.engine.store.codecs import Codec, Encoded


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class PointCodec(Codec):
    python_type = "point_plugin.Point"
    classes = ("point_plugin.Point",)

    def encode(self, value):
        return Encoded(serializer="point", python_type=self.python_type,
                       payload=f"{value.x},{value.y}".encode())

    def decode(self, data):
        return Point(*map(int, bytes(data).decode().split(",")))


CODEC = PointCodec()
"""

USE_POINTS = """
import sys
from point_plugin import Point
from solidflow.engine.store import IntermediateStore

store = IntermediateStore(sys.argv[1])
stored = store.put("ab" * 16, Point(3, 4), run_id="r", step="s", output="result")
store.flush()
loaded = store.get("ab" * 16)
print(stored.serializer, loaded.x, loaded.y)
print(sorted(name for name in ("pandas", "polars", "pyspark") if name in sys.modules))
"""


def test_a_codec_of_an_installed_distribution_is_used_without_importing_it(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    install_distribution(
        site,
        "point_plugin",
        "point_plugin",
        POINT_MODULE,
        "[solidflow.codecs]\npoints = point_plugin:CODEC\n",
    )
    found = subprocess.run(
        [sys.executable, "-c", USE_POINTS, str(tmp_path / "store")],
        env={"PYTHONPATH": str(site), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    # Loading every codec imported none of the optional data libraries.
    assert found.stdout.splitlines() == ["point 3 4", "[]"]
