"""The overhead of a trivial Spark solid against the same Spark job run by hand.

The job: `spark.range(rows)` with two derived columns, written as Parquet (a solid's Spark
DataFrame output is written as Parquet into the intermediate store). Pairs are measured in
alternation (A B A B) after a warm-up, on one SparkSession, and their medians compared:
  - steady state: one solid run by `execute_pipeline` (plan, events in SQLite, Parquet write
    into the store, job metadata) vs `frame.write.parquet(...)` by hand, both on a session
    that already runs (given to the pipeline as a plain resource object);
  - cold: a whole run with the `spark_resource` (its session started and stopped) vs starting
    a session, writing and stopping it by hand.

    python benchmarks/spark_overhead.py [--master local[2]] [--rows 100000] [--repetitions 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from solidflow import Config, Instance, Mode, PipelineDefinition, execute_pipeline, pipeline, solid
from solidflow.benchmarks.suite.measure import timed
from solidflow.resources import spark_resource


class RangeConfig(Config):
    rows: int
    run: str  # a fresh value per run, so that nothing is memoized


def the_job(spark: SparkSession, rows: int) -> DataFrame:
    return spark.range(rows).select("id", (F.col("id") % 10).alias("k"), F.sqrt("id").alias("r"))


@solid(required_resource_keys={"spark"})
def trivial(context, config: RangeConfig) -> DataFrame:
    return the_job(context.resources.spark, config.rows)


def build(spark: Any) -> PipelineDefinition:
    @pipeline(name="spark_trivial", modes=[Mode("default", resources={"spark": spark})])
    def spark_trivial() -> None:
        trivial()

    return spark_trivial


def _session_conf() -> dict[str, Any]:
    return {
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": 2,
    }


def _start(master: str) -> SparkSession:
    builder = SparkSession.builder.master(master).appName("spark-overhead")
    for key, value in _session_conf().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _run(pipeline_def: PipelineDefinition, instance: Instance, rows: int, resources: dict) -> None:
    config = {"solids": {"trivial": {"config": {"rows": rows, "run": uuid.uuid4().hex}}}}
    result = execute_pipeline(pipeline_def, {**config, **resources}, instance=instance)
    if not result.success:
        sys.exit(f"the benchmark pipeline failed: {result.events[-1].payload}")


def _report(label: str, solidflow_times: list[float], hand_times: list[float]) -> None:
    ours, hand = statistics.median(solidflow_times), statistics.median(hand_times)
    ratios = [a / b for a, b in zip(solidflow_times, hand_times, strict=True)]
    print(
        f"{label:<13} solidflow {ours * 1000:8.1f} ms   by hand {hand * 1000:8.1f} ms   "
        f"overhead {(ours - hand) * 1000:7.1f} ms   ratio {statistics.median(ratios):.2f}x "
        f"(pairs {min(ratios):.2f}-{max(ratios):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--cold-repetitions", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        instance = Instance(Path(home) / "home")
        out = Path(home) / "by-hand"
        spark = _start(args.master)
        warm = build(spark)

        def by_hand() -> None:
            the_job(spark, args.rows).write.parquet(str(out / uuid.uuid4().hex))

        for _ in range(2):  # warm-up: JIT, code paths, the event log
            by_hand()
            _run(warm, instance, args.rows, {})
        ours, hand = [], []
        for _ in range(args.repetitions):
            ours.append(timed(lambda: _run(warm, instance, args.rows, {})))
            hand.append(timed(by_hand))
        spark.stop()

        cold = build(spark_resource)
        resources = {
            "resources": {"spark": {"config": {"master": args.master, "conf": _session_conf()}}}
        }

        def cold_by_hand() -> None:
            session = _start(args.master)
            the_job(session, args.rows).write.parquet(str(out / uuid.uuid4().hex))
            session.stop()

        cold_ours, cold_hand = [], []
        for _ in range(args.cold_repetitions):
            cold_ours.append(timed(lambda: _run(cold, instance, args.rows, resources)))
            cold_hand.append(timed(cold_by_hand))

    print(f"trivial Spark solid, {args.rows:,} rows written as Parquet, master {args.master}")
    _report("steady state", ours, hand)
    _report("cold", cold_ours, cold_hand)


if __name__ == "__main__":
    main()
