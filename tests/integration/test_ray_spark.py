"""Spark solids under the Ray executor: each a Ray task whose worker process drives Spark."""

from __future__ import annotations

import os

import pytest

from solidflow import Instance, execute_pipeline
from solidflow.engine.events.records import EventType
from tests.integration import spark_pipelines

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.spark, pytest.mark.slow]


def test_spark_solids_run_as_ray_tasks_with_one_session_per_worker_process(ray_address, tmp_path):
    conf = {
        **spark_pipelines.LOCAL_CONF,
        "spark.ui.enabled": False,
    }
    config = {
        "execution": {"ray": {"address": ray_address}},
        "resources": {"spark": {"config": {"master": "local[1]", "conf": conf}}},
    }
    result = execute_pipeline(spark_pipelines.mixed, config, instance=Instance(tmp_path / "h"))
    assert result.success, [e.payload for e in result.events if e.type is EventType.STEP_FAILURE]
    assert result.output_for("report") == spark_pipelines.expected_sums()
    totals = result.output_for("top_keys").to_arrow().column("total").to_pylist()
    assert sorted(totals) == sorted(spark_pipelines.expected_sums().values())

    starts = {e.step: e.payload for e in result.events if e.type is EventType.STEP_START}
    spark_pids = {starts[step]["pid"] for step in ("sum_by_key", "top_keys")}
    assert os.getpid() not in spark_pids
    assert all(starts[step]["node_id"] for step in starts)
    # The session is built once in each worker process that runs a Spark solid, and stopped
    # when the run ends.
    inits = [e for e in result.events if e.type is EventType.RESOURCE_INIT]
    teardowns = [e for e in result.events if e.type is EventType.RESOURCE_TEARDOWN]
    assert len(inits) == len(spark_pids) == len(teardowns)
    assert all(e.payload["success"] for e in inits + teardowns)


def test_a_submitted_solid_runs_through_spark_submit_from_a_ray_worker(ray_address, tmp_path):
    # The Ray worker writes its steps' outputs behind; the submitted driver writes its own.
    pipeline = spark_pipelines.submitted("local[1]")
    config = {"execution": {"ray": {"address": ray_address}}}
    result = execute_pipeline(pipeline, config, instance=Instance(tmp_path / "h"))
    assert result.success, result.result_for("generated").failure_message
    assert result.output_for("count_even") == 500
    [log] = [e for e in result.events if e.type is EventType.LOG and e.step == "generated"]
    assert log.payload["message"] == "running as the Spark driver"
