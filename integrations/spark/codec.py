"""The codec of Spark DataFrames (classic and Spark Connect): written by Spark itself as
Parquet into the store (nothing is collected to the driver), with the metadata of the
Spark jobs that wrote them; described by their schema only (counting rows would run a job);
read back from stored datasets by the step's `spark` resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solidflow.engine.store.codecs import Codec
from solidflow.integrations.spark.jobs import spark_jobs
from solidflow.integrations.spark.paths import spark_url


class SparkDataFrameCodec(Codec):
    python_type = "pyspark.sql.DataFrame"
    classes = ("pyspark.sql.dataframe.DataFrame",)
    writes_datasets = True
    loads_datasets = True
    dataset_resources = ("spark",)

    def describe(self, value: Any) -> Mapping[str, Any]:
        schema = value.schema
        return {
            "columns": len(schema.fields),
            "schema": ", ".join(f"{f.name}: {f.dataType.simpleString()}" for f in schema.fields),
        }

    def write_dataset(self, value: Any, location: str, label: str) -> Mapping[str, Any]:
        with spark_jobs(value.sparkSession, label) as jobs:
            value.write.parquet(spark_url(location))
        return {"spark": dict(jobs)}

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        return resources["spark"].read.parquet(spark_url(dataset.location))


CODEC = SparkDataFrameCodec()
