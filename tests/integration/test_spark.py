"""Spark solids against a real local standalone cluster and Spark Connect server."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from solidflow import execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.engine.store.datasets import StoredDataset
from tests.integration import spark_pipelines as pipelines
from tests.integration.events import events_of

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.spark, pytest.mark.slow]


def _classic(cluster, **conf) -> dict:
    settings = {
        "spark.executor.memory": "512m",
        "spark.cores.max": 1,
        **pipelines.LOCAL_CONF,
        "spark.task.maxFailures": 1,
        **conf,
    }
    config = {"master": cluster.master_url, "app_name": "solidflow-tests", "conf": settings}
    return {"resources": {"spark": {"config": config}}}


def _connect(cluster) -> dict:
    return {"resources": {"spark": {"config": {"remote": cluster.connect_url}}}}


def test_a_mixed_pipeline_runs_on_the_standalone_cluster(spark_cluster, instance):
    result = execute_pipeline(pipelines.mixed, _classic(spark_cluster), instance=instance)
    assert result.success, [e.payload for e in events_of(result, EventType.STEP_FAILURE)]
    assert result.output_for("report") == pipelines.expected_sums()

    [output] = events_of(result, EventType.STEP_OUTPUT, "sum_by_key")
    payload = output.payload
    assert payload["serializer"] == "parquet"
    assert payload["rows"] == pipelines.KEYS
    spark = payload["spark"]
    assert spark["application_id"].startswith("app-")
    assert spark["job_ids"] and spark["stages"] >= 1
    # The standalone worker ran the application's executors.
    assert (spark_cluster.directory / "work" / spark["application_id"]).is_dir()

    stored = result.output_for("top_keys")
    assert isinstance(stored, StoredDataset)
    assert os.path.isdir(stored.location)
    table = stored.to_arrow().sort_by("key")
    assert table.column("total").to_pylist() == [
        pipelines.expected_sums()[key] for key in range(pipelines.KEYS)
    ]


def test_a_second_run_is_memoized_and_a_spark_solid_reexecutes_from_stored_parquet(
    spark_cluster, instance
):
    config = _classic(spark_cluster)
    first = execute_pipeline(pipelines.mixed, config, instance=instance, memoize=True)
    assert first.success

    second = execute_pipeline(pipelines.mixed, config, instance=instance, memoize=True)
    assert second.success
    assert events_of(second, EventType.STEP_START) == []
    assert {e.step for e in events_of(second, EventType.STEP_MEMOIZED)} == {
        "numbers",
        "sum_by_key",
        "report",
        "top_keys",
    }

    minimum = sorted(pipelines.expected_sums().values())[3]
    changed = {**config, "solids": {"top_keys": {"config": {"minimum": minimum}}}}
    child = reexecute_pipeline(
        first.run_id, solid_selection=["top_keys"], run_config=changed, instance=instance
    )
    assert child.success
    assert [e.step for e in events_of(child, EventType.STEP_START)] == ["top_keys"]
    [read] = events_of(child, EventType.STEP_INPUT, "top_keys")
    assert read.payload["type"] == "DataFrame"
    totals = child.output_for("top_keys").to_arrow().column("total").to_pylist()
    assert sorted(totals) == sorted(t for t in pipelines.expected_sums().values() if t >= minimum)
    assert len(totals) == pipelines.KEYS - 3


def test_without_memoization_a_spark_solid_reads_its_changed_source_again(
    spark_cluster, instance, tmp_path
):
    source = tmp_path / "source.parquet"
    config = {
        **_classic(spark_cluster),
        "solids": {"read_source": {"config": {"path": str(source)}}},
    }
    pq.write_table(pa.table({"x": list(range(10))}), source)
    first = execute_pipeline(pipelines.growing_source, config, instance=instance)
    assert first.output_for("summarize") == {"rows": 10, "sum": 45}

    pq.write_table(pa.table({"x": list(range(20))}), source)  # the source grew
    second = execute_pipeline(pipelines.growing_source, config, instance=instance)
    assert second.success
    assert second.output_for("summarize") == {"rows": 20, "sum": 190}
    assert second.output_for("read_source").to_arrow().num_rows == 20
    [before] = events_of(first, EventType.STEP_OUTPUT, "read_source")
    [output] = events_of(second, EventType.STEP_OUTPUT, "read_source")
    assert output.payload["key"] == before.payload["key"]  # same key, this run's data
    assert output.payload["rows"] == 20 and output.payload["spark"]["job_ids"]

    memoized = execute_pipeline(pipelines.growing_source, config, instance=instance, memoize=True)
    assert {e.step for e in events_of(memoized, EventType.STEP_MEMOIZED)} == {
        "read_source",
        "summarize",
    }
    assert memoized.output_for("read_source").to_arrow().num_rows == 20


def test_the_mixed_pipeline_runs_through_spark_connect(spark_cluster, instance):
    result = execute_pipeline(pipelines.mixed, _connect(spark_cluster), instance=instance)
    assert result.success, [e.payload for e in events_of(result, EventType.STEP_FAILURE)]
    assert result.output_for("report") == pipelines.expected_sums()
    [output] = events_of(result, EventType.STEP_OUTPUT, "top_keys")
    assert output.payload["serializer"] == "parquet"
    assert output.payload["rows"] == pipelines.KEYS
    assert output.payload["spark"]["application_id"].startswith("app-")


def test_a_submitted_solid_runs_as_a_spark_driver_through_spark_submit(spark_cluster, instance):
    pipeline = pipelines.submitted(spark_cluster.master_url)
    result = execute_pipeline(pipeline, instance=instance)
    assert result.success, [e.payload for e in events_of(result, EventType.STEP_FAILURE)]
    assert result.output_for("count_even") == 500

    [start] = events_of(result, EventType.STEP_START, "generated")
    assert start.payload["pid"] != os.getpid()
    app_id = start.payload["spark_application_id"]
    assert app_id.startswith("app-")
    [log] = events_of(result, EventType.LOG, "generated")
    assert log.payload["message"] == "running as the Spark driver"
    [output] = events_of(result, EventType.STEP_OUTPUT, "generated")
    assert output.payload["spark"]["application_id"] == app_id
    assert output.payload["rows"] == output.payload["spark"]["output_rows"] == 1_000
    # Everything the driver reported is in the central event log too.
    logged = [(e.type, e.step) for e in instance.events(result.run_id)]
    assert (EventType.LOG, "generated") in logged


def test_a_failing_submitted_solid_names_its_error_and_spark_application(spark_cluster, instance):
    pipeline = pipelines.submitted(spark_cluster.master_url, fail=True)
    result = execute_pipeline(pipeline, instance=instance)
    assert not result.success
    message = result.result_for("generated").failure_message
    assert message.startswith(
        "solid 'generated' raised RuntimeError: the submitted solid gave up (Spark application app-"
    )
    assert result.result_for("count_even").skipped


def test_a_submitted_solid_that_gets_no_executors_names_who_holds_the_cores(
    spark_cluster, instance
):
    # The run's own session takes the core the Spark Connect server leaves free.
    pipeline = pipelines.starved_submission(spark_cluster.master_url, spark_cluster.master_web_ui)
    result = execute_pipeline(pipeline, _classic(spark_cluster), instance=instance)
    assert not result.success
    holder = result.output_for("hold")
    message = result.result_for("starved").failure_message
    assert message.startswith(
        f"solid 'starved' submitted with spark-submit to {spark_cluster.master_url} as Spark "
        "application app-"
    )
    assert "got no executors within 5s and was stopped: the cluster's 2 live cores have 0 free" in (
        message
    )
    assert "the cores are held by app-" in message
    assert f"{holder} 'solidflow-tests' (1 core)" in message
    assert "'Spark Connect server' (1 core)" in message
    [failure] = events_of(result, EventType.STEP_FAILURE, "starved")
    assert failure.payload["spark_application_id"] not in (holder, None)


def test_a_failing_spark_job_fails_its_step_clearly_and_keeps_earlier_outputs(
    spark_cluster, instance
):
    result = execute_pipeline(pipelines.failing_job, _classic(spark_cluster), instance=instance)
    assert not result.success
    message = result.result_for("failing_udf").failure_message
    assert "ValueError: cannot handle value" in message
    assert "\tat " not in message and len(message.splitlines()) == 1

    assert result.result_for("numbers").success
    [output] = events_of(result, EventType.STEP_OUTPUT, "numbers")
    store = IntermediateStore(instance.config.storage.root)
    assert store.check([output.payload["key"]])[output.payload["key"]][0] is OutputStatus.PRESENT
    assert result.output_for("numbers").num_rows == pipelines.ROWS


def test_a_bad_spark_conf_fails_the_step_with_a_one_line_reason(spark_cluster, instance):
    config = _classic(spark_cluster, **{"spark.executor.memory": "lots"})
    result = execute_pipeline(pipelines.mixed, config, instance=instance)
    assert not result.success
    message = result.result_for("sum_by_key").failure_message
    assert message.startswith(
        "resource 'spark' failed to initialise: SparkResourceError: could not start a Spark "
        f"session on {spark_cluster.master_url}: "
    )
    assert "lots" in message or "memory" in message.lower()
    assert "\tat " not in message
    assert result.result_for("numbers").success
