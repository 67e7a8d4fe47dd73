"""The codec of pandas DataFrames: stored as Arrow IPC files (with their index), described by
rows, columns and dtypes, and read from stored datasets. pandas is imported only when a
DataFrame is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from solidflow.engine.store.codecs import ARROW, Codec, Encoded, qualified_name

# What pyarrow raises for data frames it cannot convert faithfully; those are pickled.
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError)


class PandasCodec(Codec):
    python_type = "pandas.DataFrame"
    classes = ("pandas.DataFrame", "pandas.core.frame.DataFrame")  # pandas 3, pandas 2
    loads_datasets = True

    def describe(self, value: Any) -> Mapping[str, Any]:
        return {
            "rows": len(value.index),
            "columns": len(value.columns),
            "schema": ", ".join(f"{name}: {dtype}" for name, dtype in value.dtypes.items()),
        }

    def encode(self, value: Any) -> Encoded | None:
        if qualified_name(type(value)) not in self.classes:  # subclasses are pickled
            return None
        try:
            table = pa.Table.from_pandas(value, preserve_index=True)
        except _ARROW_ERRORS:
            return None
        return Encoded(serializer=ARROW, python_type=self.python_type, arrow=table, rows=len(value))

    def decode(self, data: Any) -> Any:
        return data.read_all().to_pandas()

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        return dataset.to_arrow().to_pandas()


CODEC = PandasCodec()
