"""Values to stored bytes and back: tables, data frames and numeric arrays as Arrow IPC files,
bytes-like values as they are, plain data as msgpack, anything else with cloudpickle."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import cloudpickle
import msgpack
import pyarrow as pa

from solidflow.engine.events.records import MSGPACK_INTS

ARROW, MSGPACK, PICKLE, BYTES = "arrow", "msgpack", "pickle", "bytes"
DATA_SUFFIXES = (".arrow", ".bin")
"""The name endings of stored data files: Arrow IPC files, and other payloads."""
TABLE, BATCH = "pyarrow.Table", "pyarrow.RecordBatch"
PANDAS, POLARS, NUMPY = "pandas.DataFrame", "polars.DataFrame", "numpy.ndarray"
_NUMPY_METADATA = b"solidflow.numpy"
_MSGPACK_SCALARS = (type(None), bool, float, str, bytes)
_BYTES_LIKE = {
    bytes: "builtins.bytes",
    bytearray: "builtins.bytearray",
    memoryview: "builtins.memoryview",
}
BYTEARRAY = _BYTES_LIKE[bytearray]
# What pyarrow raises for data frames it cannot convert faithfully; those are pickled.
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Encoded:
    """A value ready to store: exactly one of an Arrow table or record batch (`arrow`) and a
    `payload`: msgpack or pickle bytes, or the memory of a bytes-like value (not copied)."""

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
        return self.arrow.schema.to_string(show_field_metadata=False, show_schema_metadata=False)

    def size(self) -> int:
        """The number of bytes `write_to` writes."""
        if self.payload is not None:
            return len(self.payload)
        sink = pa.MockOutputStream()
        self.write_to(sink)
        return sink.size()

    def write_to(self, sink: Any) -> None:
        """Write the payload or the Arrow IPC file of the data to the binary stream `sink`."""
        if self.payload is not None:
            sink.write(self.payload)
            return
        with pa.ipc.new_file(sink, self.arrow.schema) as writer:
            writer.write(self.arrow)


def data_suffix(serializer: str) -> str:
    """The name ending of the data file of an output stored with `serializer`."""
    return DATA_SUFFIXES[0] if serializer == ARROW else DATA_SUFFIXES[1]


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_msgpack_data(value: Any) -> bool:
    kind = type(value)
    if kind in _MSGPACK_SCALARS:
        return True
    if kind is int:
        return value in MSGPACK_INTS
    if kind is list:
        return all(_is_msgpack_data(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_msgpack_data(v) for k, v in value.items())
    return False


def _module_type(module: str, name: str) -> type | None:
    """The class `module.name` if that module is already imported."""
    imported = sys.modules.get(module)
    return None if imported is None else getattr(imported, name, None)


def _arrow(value: Any) -> Encoded | None:
    kind = type(value)
    if kind is pa.Table:
        return Encoded(serializer=ARROW, python_type=TABLE, arrow=value, rows=value.num_rows)
    if kind is pa.RecordBatch:
        return Encoded(serializer=ARROW, python_type=BATCH, arrow=value, rows=value.num_rows)
    if kind is _module_type("pandas", "DataFrame"):
        try:
            table = pa.Table.from_pandas(value, preserve_index=True)
        except _ARROW_ERRORS:
            return None
        return Encoded(serializer=ARROW, python_type=PANDAS, arrow=table, rows=len(value))
    if kind is _module_type("polars", "DataFrame"):
        try:
            table = value.to_arrow()
        except _ARROW_ERRORS:
            return None
        return Encoded(serializer=ARROW, python_type=POLARS, arrow=table, rows=value.height)
    if kind is _module_type("numpy", "ndarray") and value.dtype.kind in "biuf":
        if not value.dtype.isnative:
            return None
        metadata = {"dtype": value.dtype.str, "shape": list(value.shape)}
        column = pa.array(value.ravel(order="C"))
        table = pa.table({"values": column}, metadata={_NUMPY_METADATA: json.dumps(metadata)})
        rows = value.shape[0] if value.ndim else None
        return Encoded(serializer=ARROW, python_type=NUMPY, arrow=table, rows=rows)
    return None


def _bytes_like(value: Any) -> Encoded | None:
    python_type = _BYTES_LIKE.get(type(value))
    if python_type is None:
        return None
    view = memoryview(value)
    payload = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    return Encoded(serializer=BYTES, python_type=python_type, payload=payload)


def encode(value: Any) -> Encoded:
    """`value` in the form it is stored in."""
    encoded = _arrow(value) or _bytes_like(value)
    if encoded is not None:
        return encoded
    python_type = _qualified_name(type(value))
    if _is_msgpack_data(value):
        try:
            payload = msgpack.packb(value, use_bin_type=True)
        except UnicodeEncodeError:  # strings with lone surrogates
            pass
        else:
            return Encoded(serializer=MSGPACK, python_type=python_type, payload=payload)
    return Encoded(serializer=PICKLE, python_type=python_type, payload=cloudpickle.dumps(value))


def decode_arrow(reader: pa.ipc.RecordBatchFileReader, python_type: str) -> Any:
    """The value of type `python_type` stored in the Arrow IPC file open in `reader`."""
    if python_type == BATCH:
        return reader.get_batch(0)
    table = reader.read_all()
    if python_type == TABLE:
        return table
    if python_type == PANDAS:
        return table.to_pandas()
    if python_type == POLARS:
        import polars

        return polars.from_arrow(table)
    if python_type == NUMPY:
        return _numpy_from(table)
    raise ValueError(f"unknown Arrow output type {python_type!r}")


def _numpy_from(table: pa.Table) -> Any:
    """The array in `table`, sharing its memory unless it is boolean; read-only then."""
    metadata = json.loads(table.schema.metadata[_NUMPY_METADATA])
    column = table.column(0)
    values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    flat = values.to_numpy(zero_copy_only=not pa.types.is_boolean(values.type))
    return flat.astype(metadata["dtype"], copy=False).reshape(metadata["shape"])


def decode_payload(serializer: str, payload: Any, python_type: str) -> Any:
    """The value of type `python_type` in a `payload` (any buffer; bytes or a bytearray are
    returned as they are when that is the type)."""
    if serializer == BYTES:
        kind = {name: cls for cls, name in _BYTES_LIKE.items()}[python_type]
        if kind is memoryview:
            return memoryview(payload).toreadonly()
        return payload if type(payload) is kind else kind(payload)
    if serializer == MSGPACK:
        return msgpack.unpackb(payload, raw=False)
    if serializer == PICKLE:
        return cloudpickle.loads(payload)
    raise ValueError(f"unknown serializer {serializer!r}")
