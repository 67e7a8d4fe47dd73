"""The codec of Spark DataFrames (classic and Spark Connect): written by Spark itself as
Parquet into the store (nothing is collected to the driver), with the metadata of the
Spark jobs that wrote them; described by their schema only (counting rows would run a job);
read back from stored datasets by the step's `spark` resource. Where Spark has no Hadoop
filesystem for the store's URL (s3a:// without hadoop-aws on its classpath), a DataFrame is
collected to the driver and written by the store, and read back by Arrow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solidflow.engine.store.codecs import Codec, DatasetNotWritable
from solidflow.integrations.spark.jobs import spark_jobs
from solidflow.integrations.spark.paths import lacks_filesystem, no_filesystem_message, spark_url


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
        url = spark_url(location)
        with spark_jobs(value.sparkSession, label) as jobs:
            try:
                value.write.parquet(url)
            except Exception as error:
                if not lacks_filesystem(error, url):
                    raise
                message = (
                    f"{no_filesystem_message(url)}; the DataFrame was collected to the driver "
                    "and written through the store instead"
                )
                raise DatasetNotWritable(message, to_arrow=value.toArrow) from None
        return {"spark": dict(jobs)}

    def from_dataset(self, dataset: Any, resources: Mapping[str, Any]) -> Any:
        spark = resources["spark"]
        url = spark_url(dataset.location)
        try:
            return spark.read.parquet(url)
        except Exception as error:
            if not lacks_filesystem(error, url):
                raise
        return spark.createDataFrame(dataset.to_arrow())  # read by Arrow in this process


CODEC = SparkDataFrameCodec()
