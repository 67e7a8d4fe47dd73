"""The codec of numeric numpy arrays: stored as a one-column Arrow table with the dtype and
shape in its metadata, loaded without a copy (read-only then). numpy itself is never
imported here."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from solidflow.engine.store.codecs import ARROW, Codec, Encoded

_METADATA = b"solidflow.numpy"


class NumpyCodec(Codec):
    python_type = "numpy.ndarray"
    classes = ("numpy.ndarray",)

    def encode(self, value: Any) -> Encoded | None:
        kind = type(value)
        if kind.__module__ != "numpy" or kind.__name__ != "ndarray":  # subclasses are pickled
            return None
        if value.dtype.kind not in "biuf" or not value.dtype.isnative:
            return None
        metadata = {"dtype": value.dtype.str, "shape": list(value.shape)}
        column = pa.array(value.ravel(order="C"))
        table = pa.table({"values": column}, metadata={_METADATA: json.dumps(metadata)})
        rows = value.shape[0] if value.ndim else None
        return Encoded(serializer=ARROW, python_type=self.python_type, arrow=table, rows=rows)

    def decode(self, data: Any) -> Any:
        """The array, sharing the table's memory unless it is boolean."""
        table = data.read_all()
        metadata = json.loads(table.schema.metadata[_METADATA])
        column = table.column(0)
        values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        flat = values.to_numpy(zero_copy_only=not pa.types.is_boolean(values.type))
        return flat.astype(metadata["dtype"], copy=False).reshape(metadata["shape"])


CODEC = NumpyCodec()
