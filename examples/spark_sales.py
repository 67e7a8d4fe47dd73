"""Example pipeline mixing Spark and Arrow: generate a year of sales with Spark, aggregate them
per region and month with Spark, and hand the (small) result to an Arrow solid that ranks the
regions. Each Spark DataFrame output is written as Parquet by Spark into the intermediate
store; the next Spark solid reads it back, the Arrow solid receives it as a pyarrow Table.

Run it on Spark in local mode (Java 17+ needed):
    solidflow run examples/spark_sales.py:spark_sales -c examples/spark_sales.yaml
or on a standalone cluster or through Spark Connect by setting `master` or `remote` of the
`spark` resource in the config file (cluster_configs/spark/README.md).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from solidflow import Config, ExpectationResult, Materialization, Mode, Output, pipeline, solid
from solidflow.resources import spark_resource

REGIONS = ["north", "south", "east", "west", "central"]


class GenerateConfig(Config):
    rows: int = 1_000_000
    seed: int = 11


@solid(required_resource_keys={"spark"})
def generate_sales(context, config: GenerateConfig) -> DataFrame:
    """A year of random sales: date, region, amount."""
    regions = F.array(*(F.lit(region) for region in REGIONS))
    index = (F.rand(config.seed) * len(REGIONS)).cast("int")
    return context.resources.spark.range(config.rows).select(
        F.date_add(
            F.lit("2026-01-01").cast("date"), (F.rand(config.seed + 1) * 365).cast("int")
        ).alias("date"),
        F.element_at(regions, index + 1).alias("region"),
        F.round(F.rand(config.seed + 2) * 200, 2).alias("amount"),
    )


@solid(required_resource_keys={"spark"})
def monthly_revenue(context, sales: DataFrame) -> DataFrame:
    """Revenue and number of sales per region and month."""
    month = F.date_trunc("month", "date").cast("date").alias("month")
    return (
        sales.groupBy("region", month)
        .agg(F.round(F.sum("amount"), 2).alias("revenue"), F.count("*").alias("sales"))
        .orderBy("region", "month")
    )


@solid
def rank_regions(monthly: pa.Table):
    """Total revenue per region, best first."""
    totals = monthly.group_by("region").aggregate([("revenue", "sum"), ("sales", "sum")])
    ranked = totals.sort_by([("revenue_sum", "descending")])
    yield ExpectationResult(
        success=pc.all(pc.greater(ranked["revenue_sum"], 0)).as_py(),
        label="every region has revenue",
    )
    yield Materialization(
        "sales/region_ranking",
        metadata={"best_region": ranked["region"][0].as_py(), "regions": ranked.num_rows},
    )
    yield Output(ranked)


@pipeline(
    description="Sales generated and aggregated by Spark, ranked with Arrow.",
    modes=[Mode("local", resources={"spark": spark_resource})],
)
def spark_sales():
    rank_regions(monthly_revenue(generate_sales()))
