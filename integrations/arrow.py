"""Codecs of Arrow tables and record batches: stored as Arrow IPC files, loaded memory-mapped,
described by rows, columns, schema and size. Tables are also read from stored datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pyarrow as pa

from solidflow.engine.store.codecs import ARROW, Codec, Encoded


def table_metadata(value: Any) -> dict[str, Any]:
    """Rows, columns, schema and size of an Arrow table or record batch."""
    return {
        "rows": value.num_rows,
        "columns": value.num_columns,
        "schema": ", ".join(f"{f.name}: {f.type}" for f in value.schema),
        "bytes": value.nbytes,
    }


class _ArrowDataCodec(Codec):
    """Values of `arrow_class` exactly, stored as they are."""

    arrow_class: ClassVar[type[Any]]

    def describe(self, value: Any) -> Mapping[str, Any]:
        return table_metadata(value)

    def encode(self, value: Any) -> Encoded | None:
        if type(value) is not self.arrow_class:
            return None
        return Encoded(
            serializer=ARROW, python_type=self.python_type, arrow=value, rows=value.num_rows
        )


class ArrowTableCodec(_ArrowDataCodec):
    python_type = "pyarrow.Table"
    classes = ("pyarrow.lib.Table",)
    arrow_class = pa.Table
    loads_datasets = True

    def decode(self, data: Any) -> Any:
        return data.read_all()

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        return dataset.to_arrow()


class ArrowRecordBatchCodec(_ArrowDataCodec):
    python_type = "pyarrow.RecordBatch"
    classes = ("pyarrow.lib.RecordBatch",)
    arrow_class = pa.RecordBatch

    def decode(self, data: Any) -> Any:
        return data.get_batch(0)


TABLE = ArrowTableCodec()
RECORD_BATCH = ArrowRecordBatchCodec()
