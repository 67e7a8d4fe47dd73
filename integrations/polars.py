"""The codec of polars DataFrames: stored as Arrow IPC files and read from stored datasets.
polars is imported only when a DataFrame is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from solidflow.engine.store.codecs import ARROW, Codec, Encoded, qualified_name

_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError)


def _from_arrow(table: pa.Table) -> Any:
    import polars

    return polars.from_arrow(table)


class PolarsCodec(Codec):
    python_type = "polars.DataFrame"
    classes = ("polars.dataframe.frame.DataFrame",)
    loads_datasets = True

    def encode(self, value: Any) -> Encoded | None:
        if qualified_name(type(value)) not in self.classes:
            return None
        try:
            table = value.to_arrow()
        except _ARROW_ERRORS:
            return None
        return Encoded(
            serializer=ARROW, python_type=self.python_type, arrow=table, rows=value.height
        )

    def decode(self, data: Any) -> Any:
        return _from_arrow(data.read_all())

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        return _from_arrow(dataset.to_arrow())


CODEC = PolarsCodec()
