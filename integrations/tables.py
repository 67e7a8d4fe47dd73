"""Type-check metadata for tabular values: Arrow tables and record batches, pandas and Spark
DataFrames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MetadataFn = Callable[[Any], dict[str, Any]]


def _arrow_metadata(value: Any) -> dict[str, Any]:
    return {
        "rows": value.num_rows,
        "columns": value.num_columns,
        "schema": ", ".join(f"{f.name}: {f.type}" for f in value.schema),
        "bytes": value.nbytes,
    }


def _pandas_metadata(value: Any) -> dict[str, Any]:
    return {
        "rows": len(value.index),
        "columns": len(value.columns),
        "schema": ", ".join(f"{name}: {dtype}" for name, dtype in value.dtypes.items()),
    }


def _spark_metadata(value: Any) -> dict[str, Any]:
    # Counting rows would run a Spark job: only what the schema says.
    schema = value.schema
    return {
        "columns": len(schema.fields),
        "schema": ", ".join(f"{f.name}: {f.dataType.simpleString()}" for f in schema.fields),
    }


_BY_QUALIFIED_NAME: dict[str, MetadataFn] = {
    "pyarrow.lib.Table": _arrow_metadata,
    "pyarrow.lib.RecordBatch": _arrow_metadata,
    "pandas.DataFrame": _pandas_metadata,
    "pandas.core.frame.DataFrame": _pandas_metadata,
    "pyspark.sql.dataframe.DataFrame": _spark_metadata,
}


def metadata_for_class(cls: type) -> MetadataFn | None:
    """The function describing values of `cls` (rows, columns, schema), if it is a table class."""
    for klass in cls.__mro__:
        found = _BY_QUALIFIED_NAME.get(f"{klass.__module__}.{klass.__qualname__}")
        if found:
            return found
    return None
