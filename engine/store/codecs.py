"""Codecs: for values of some classes, how they are stored, loaded back, described, and
which inputs their stored form feeds. The engine knows no data library: Arrow, pandas,
polars, numpy and Spark register codecs from solidflow.integrations (see codec_registry).

A codec stores a value in one of two forms:
- data the engine writes: an Arrow table or record batch (an Arrow IPC file, loaded
  memory-mapped) or bytes the codec encodes itself (`encode`, `decode`);
- a Parquet dataset that the value's own engine writes, for values computed by writing them
  such as Spark DataFrames (`write_dataset`). Steps downstream receive a StoredDataset,
  which codecs of their inputs' classes turn into what those declare (`from_dataset`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

ARROW = "arrow"
"""The serializer of outputs stored as Arrow IPC files."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Encoded:
    """A value ready to store: exactly one of an Arrow table or record batch (`arrow`) and a
    `payload` (bytes, or the memory of a bytes-like value, not copied), with the `serializer`
    that wrote them ("arrow", "msgpack", "pickle", "bytes", or a codec's own name for its
    payloads) and the `python_type` that loads them."""

    serializer: str
    python_type: str
    arrow: pa.Table | pa.RecordBatch | None = None
    payload: bytes | memoryview | None = None
    rows: int | None = None

    @property
    def schema(self) -> str | None:
        """The Arrow schema as text, without metadata."""
        if self.arrow is None:
            return None
        schema: str = self.arrow.schema.to_string(
            show_field_metadata=False, show_schema_metadata=False
        )
        return schema

    def size(self) -> int:
        """The number of bytes `write_to` writes."""
        if self.payload is not None:
            return len(self.payload)
        sink = pa.MockOutputStream()
        self.write_to(sink)
        size: int = sink.size()
        return size

    def write_to(self, sink: Any) -> None:
        """Write the payload or the Arrow IPC file of the data to the binary stream `sink`."""
        if self.payload is not None:
            sink.write(self.payload)
            return
        arrow = self.arrow
        assert arrow is not None  # an Encoded holds exactly one of the two
        with pa.ipc.new_file(sink, arrow.schema) as writer:
            writer.write(arrow)


def qualified_name(cls: type) -> str:
    """The qualified name of `cls`, "module.QualifiedName"."""
    return f"{cls.__module__}.{cls.__qualname__}"


class DatasetNotWritable(Exception):
    """Raised by `Codec.write_dataset` when the value's engine cannot write to the store's
    location (Spark without a filesystem for the store's URL scheme): the store then writes
    the value as Parquet itself, from `to_arrow()` (its Arrow table), and says why."""

    def __init__(self, message: str, *, to_arrow: Callable[[], Any]) -> None:
        super().__init__(message)
        self.to_arrow = to_arrow


class Codec:
    """How values of the classes named in `classes` (and of their subclasses) are stored,
    loaded and described. Subclass it and override what applies; an instance is registered
    with `register_codec` or through an entry point of the group "solidflow.codecs".

    Attributes:
        python_type: the name stored outputs record (their sidecar's `python_type`) and by
            which loading finds this codec again, e.g. "pandas.DataFrame". Keep it stable.
        classes: qualified names ("module.Class") of the classes handled, matched without
            importing them; a class matches through the first of its bases that is named.
        writes_datasets: values are stored by `write_dataset` rather than `encode`.
        loads_datasets: `from_dataset` builds values of these classes from a stored dataset.
        dataset_resources: the resources `from_dataset` needs (e.g. a session to read with).
    """

    python_type: ClassVar[str] = ""
    classes: ClassVar[tuple[str, ...]] = ()
    writes_datasets: ClassVar[bool] = False
    loads_datasets: ClassVar[bool] = False
    dataset_resources: ClassVar[tuple[str, ...]] = ()

    def describe(self, value: Any) -> Mapping[str, Any]:
        """What a type check reports about `value` (rows, columns, schema...); cheap."""
        return {}

    def encode(self, value: Any) -> Encoded | None:
        """`value` as Arrow data or as a payload of this codec's own serializer; None to
        store it generically (msgpack or pickle), e.g. for a subclass it cannot restore."""
        return None

    def decode(self, data: Any) -> Any:
        """The value in stored `data`: an open Arrow IPC file reader
        (pyarrow.ipc.RecordBatchFileReader) for Arrow outputs, else the payload (a buffer)."""
        raise NotImplementedError(f"{type(self).__name__} stores no data it can decode")

    def write_dataset(self, value: Any, location: str, label: str) -> Mapping[str, Any]:
        """Have `value`'s engine write it as Parquet files into the directory `location` (a
        path or fsspec URL); `label` names the write for that engine's UI. Returns what the
        output's event reports about the write. Raises DatasetNotWritable when the engine
        cannot write there."""
        raise NotImplementedError(f"{type(self).__name__} writes no datasets")

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        """A value of this codec's class read from the StoredDataset `dataset`, with the
        step's `resources` (which hold `dataset_resources`)."""
        raise NotImplementedError(f"{type(self).__name__} loads no datasets")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.python_type!r})"
