"""Pipelines run on the local Spark cluster by the integration tests."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from solidflow import Config, Mode, pipeline, solid
from solidflow.resources import spark_resource

ROWS = 3_000
KEYS = 7


LOCAL_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": 2,
}
"""The Spark settings of every test session: the driver on loopback, few shuffle partitions."""


def expected_sums() -> dict[int, int]:
    """What `sum_by_key` computes, by key."""
    sums: dict[int, int] = {}
    for value in range(ROWS):
        sums[value % KEYS] = sums.get(value % KEYS, 0) + value
    return sums


@solid
def numbers() -> pa.Table:
    values = pa.array(range(ROWS), pa.int64())
    return pa.table({"value": values, "key": pa.compute.remainder(values, KEYS)})


@solid(required_resource_keys={"spark"})
def sum_by_key(context, table: pa.Table) -> DataFrame:
    frame = context.resources.spark.createDataFrame(table.to_pandas())
    return frame.groupBy("key").agg(F.sum("value").alias("total"), F.count("*").alias("n"))


class TopConfig(Config):
    minimum: int = 0


@solid(required_resource_keys={"spark"})
def top_keys(context, sums: DataFrame, config: TopConfig) -> DataFrame:
    return sums.where(F.col("total") >= config.minimum).select("key", "total")


@solid
def report(sums: pd.DataFrame) -> dict:
    return {int(row.key): int(row.total) for row in sums.itertuples()}


@pipeline(modes=[Mode("spark", resources={"spark": spark_resource})])
def mixed():
    sums = sum_by_key(numbers())
    report(sums)
    top_keys(sums)


@solid(required_resource_keys={"spark"})
def failing_udf(context, table: pa.Table) -> DataFrame:
    @F.udf("long")
    def explode(value):
        raise ValueError(f"cannot handle value {value}")

    frame = context.resources.spark.createDataFrame(table.to_pandas())
    return frame.select(explode("value").alias("boom"))


@pipeline(modes=[Mode("spark", resources={"spark": spark_resource})])
def failing_job():
    failing_udf(numbers())


class SubmitConfig(Config):
    rows: int = 1_000


def submitted(master: str, *, fail: bool = False):
    """A pipeline whose `generated` solid runs through spark-submit against `master`."""
    tags = {
        "spark": {
            "submit": {
                "master": master,
                "conf": {
                    "spark.executor.memory": "512m",
                    "spark.cores.max": 1,
                    **LOCAL_CONF,
                },
                "timeout": 180,
            }
        }
    }

    @solid(required_resource_keys={"spark"}, tags=tags)
    def generated(context, config: SubmitConfig) -> DataFrame:
        context.log.info("running as the Spark driver")
        if fail:
            raise RuntimeError("the submitted solid gave up")
        return context.resources.spark.range(config.rows).withColumn("even", F.col("id") % 2 == 0)

    @solid
    def count_even(frame: pa.Table) -> int:
        return pa.compute.sum(frame.column("even").cast(pa.int64())).as_py()

    # The mode's spark resource is never built here: spark-submit gives `generated` its session.
    @pipeline(
        name="submitted" if not fail else "submitted_failing",
        modes=[Mode("spark", resources={"spark": spark_resource})],
    )
    def submitted_pipeline():
        count_even(generated())

    return submitted_pipeline


def starved_submission(master: str, master_web_ui: str):
    """A pipeline whose `hold` step starts the run's own Spark session (the `spark` resource),
    which keeps the cluster's free cores for the rest of the run; `starved` then runs through
    spark-submit and can get no executor."""

    @solid(required_resource_keys={"spark"})
    def hold(context) -> str:
        spark = context.resources.spark
        assert spark.range(10).count() == 10  # its executor is up
        return spark.sparkContext.applicationId

    tags = {
        "spark": {
            "submit": {
                "master": master,
                "master_web_ui": master_web_ui,
                "executor_wait": 5,
                "timeout": 600,
                "conf": {"spark.executor.memory": "512m", "spark.cores.max": 1, **LOCAL_CONF},
            }
        }
    }

    @solid(required_resource_keys={"spark"}, tags=tags)
    def starved(context, holder: str) -> int:
        return context.resources.spark.range(10).count()

    @pipeline(modes=[Mode("spark", resources={"spark": spark_resource})])
    def starved_submission_pipeline():
        starved(hold())

    return starved_submission_pipeline


class SourceConfig(Config):
    path: str


@solid(required_resource_keys={"spark"})
def read_source(context, config: SourceConfig) -> DataFrame:
    return context.resources.spark.read.parquet(config.path)


@solid
def summarize(frame: pa.Table) -> dict:
    return {"rows": frame.num_rows, "sum": pa.compute.sum(frame["x"]).as_py()}


@pipeline(modes=[Mode("spark", resources={"spark": spark_resource})])
def growing_source():
    summarize(read_source())
