"""Spark DataFrame outputs stored as Parquet by Spark itself, and stored datasets turned
into what a consuming solid declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solidflow.definitions.types import (
    PANDAS_DATAFRAME_CLASSES,
    POLARS_DATAFRAME_CLASS,
    SPARK_DATAFRAME_CLASS,
    STORED_DATASET_CLASS,
    DataType,
    qualified_names,
)
from solidflow.engine.store import IntermediateStore, StoredOutput
from solidflow.engine.store.datasets import StoredDataset
from solidflow.integrations.spark.jobs import spark_jobs
from solidflow.integrations.spark.paths import spark_url

SPARK_DATAFRAME = "pyspark.sql.DataFrame"


def store_dataframe(
    store: IntermediateStore,
    key: str,
    frame: Any,
    *,
    run_id: str,
    step: str,
    output: str,
    lineage: Mapping[str, Any] | None,
) -> tuple[StoredOutput, dict[str, Any]]:
    """Have Spark write `frame` as Parquet under `key` in `store` (executors write the files;
    nothing is collected here). Returns the sidecar and the Spark jobs' metadata."""
    jobs: dict[str, Any] = {}

    def produce(location: str) -> None:
        with spark_jobs(frame.sparkSession, f"solidflow: {step}.{output}") as found:
            frame.write.parquet(spark_url(location))
        jobs.update(found)

    stored = store.put_dataset(
        key,
        produce,
        python_type=SPARK_DATAFRAME,
        run_id=run_id,
        step=step,
        output=output,
        lineage=lineage,
    )
    return stored, jobs


def dataset_as(dataset: StoredDataset, data_type: DataType, resources: Any, where: str) -> Any:
    """`dataset` as the value an input of type `data_type` expects: a Spark DataFrame read by
    the step's `spark` resource, a pyarrow Table or a pandas or polars DataFrame (read in this
    process, so it must fit in its memory), or the StoredDataset itself. Untyped inputs get a
    Spark DataFrame when the step has a `spark` resource, else a pyarrow Table."""
    names = set().union(*map(qualified_names, data_type.python_types))
    spark = resources.spark if "spark" in resources else None
    if STORED_DATASET_CLASS in names:
        return dataset
    if SPARK_DATAFRAME_CLASS in names or (not names and spark is not None):
        if spark is None:
            raise ValueError(
                f"{where} is a Spark DataFrame stored as Parquet; reading it needs the 'spark' "
                "resource (add required_resource_keys={'spark'})"
            )
        return dataset.to_spark(spark)
    if names & PANDAS_DATAFRAME_CLASSES:
        return dataset.to_pandas()
    if POLARS_DATAFRAME_CLASS in names:
        import polars

        return polars.from_arrow(dataset.to_arrow())
    return dataset.to_arrow()
