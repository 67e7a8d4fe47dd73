"""Which Spark jobs a piece of work ran, and what Spark reports about them."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def application_id(spark: Any) -> str | None:
    """The Spark application id of the session `spark` (classic or Spark Connect)."""
    try:
        app_id: str | None
        if _is_connect(spark):
            app_id = spark.conf.get("spark.app.id", None)
        else:
            app_id = spark.sparkContext.applicationId
        return app_id
    except Exception:  # a stopped session has no application
        return None


def _stage_records(context: Any, stage_id: int) -> dict[str, int]:
    """Input and output rows of a completed stage, from the driver's status store (what the
    Spark UI shows, read over py4j without the UI having to run)."""
    jvm = context._jvm
    no_quantiles = context._gateway.new_array(jvm.double, 0)
    attempts = (
        context._jsc.sc()
        .statusStore()
        .stageData(stage_id, False, jvm.java.util.ArrayList(), False, no_quantiles)
    )
    rows = {"input_rows": 0, "output_rows": 0}
    for index in range(attempts.size()):
        attempt = attempts.apply(index)
        if str(attempt.status()) == "COMPLETE":
            rows["input_rows"] += attempt.inputRecords()
            rows["output_rows"] += attempt.outputRecords()
    return rows


def _jobs_of_group(context: Any, group: str) -> dict[str, Any]:
    tracker = context.statusTracker()
    job_ids = sorted(tracker.getJobIdsForGroup(group))
    stage_ids: set[int] = set()  # a stage reused by a later job is listed by both
    failed = []
    for job_id in job_ids:
        info = tracker.getJobInfo(job_id)
        if info is None:
            continue
        stage_ids.update(int(stage) for stage in info.stageIds)
        if info.status == "FAILED":
            failed.append(job_id)
    tasks = 0
    rows = {"input_rows": 0, "output_rows": 0}
    for stage_id in sorted(stage_ids):
        stage = tracker.getStageInfo(stage_id)
        tasks += 0 if stage is None else stage.numTasks
        for name, count in _stage_records(context, stage_id).items():
            rows[name] += count
    found: dict[str, Any] = {"job_ids": job_ids, "stages": len(stage_ids), "tasks": tasks}
    if failed:
        found["failed_job_ids"] = failed
    found.update(rows)
    return found


@contextlib.contextmanager
def spark_jobs(spark: Any, description: str) -> Iterator[dict[str, Any]]:
    """Tag the Spark jobs started in the block; afterwards the yielded dict holds their
    metadata: application id and, for classic sessions, job ids, stage and task counts and
    the input and output rows of their stages."""
    found: dict[str, Any] = {}
    app_id = application_id(spark)
    if app_id is not None:
        found["application_id"] = app_id
    if _is_connect(spark):
        yield found
        return
    context = spark.sparkContext
    group = f"solidflow-{secrets.token_hex(6)}"
    context.setJobGroup(group, description, interruptOnCancel=True)
    try:
        yield found
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)
        with contextlib.suppress(Exception):  # metadata is best effort, never a failure
            found.update(_jobs_of_group(context, group))
