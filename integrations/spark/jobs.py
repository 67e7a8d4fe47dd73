"""Which Spark jobs a piece of work ran, and what Spark reports about them."""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.request
from collections.abc import Iterator
from typing import Any

_REST_TIMEOUT = 10.0


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def application_id(spark: Any) -> str | None:
    """The Spark application id of the session `spark` (classic or Spark Connect)."""
    try:
        if _is_connect(spark):
            return spark.conf.get("spark.app.id", None)
        return spark.sparkContext.applicationId
    except Exception:  # a stopped session has no application
        return None


def _stage_records(context: Any, stage_id: int) -> dict[str, int]:
    """Input and output rows of a stage, from the Spark UI's REST API (if the UI runs)."""
    url = context.uiWebUrl
    if not url:
        return {}
    address = f"{url}/api/v1/applications/{context.applicationId}/stages/{stage_id}"
    try:
        with urllib.request.urlopen(address, timeout=_REST_TIMEOUT) as response:
            attempts = json.load(response)
    except (OSError, ValueError):
        return {}
    done = [a for a in attempts if a.get("status") == "COMPLETE"]
    return {
        "input_rows": sum(a.get("inputRecords", 0) for a in done),
        "output_rows": sum(a.get("outputRecords", 0) for a in done),
    }


def _jobs_of_group(context: Any, group: str) -> dict[str, Any]:
    tracker = context.statusTracker()
    job_ids = sorted(tracker.getJobIdsForGroup(group))
    stage_ids: list[int] = []
    failed = []
    for job_id in job_ids:
        info = tracker.getJobInfo(job_id)
        if info is None:
            continue
        stage_ids.extend(int(stage) for stage in info.stageIds)
        if info.status == "FAILED":
            failed.append(job_id)
    tasks = 0
    rows = {"input_rows": 0, "output_rows": 0}
    for stage_id in stage_ids:
        stage = tracker.getStageInfo(stage_id)
        tasks += 0 if stage is None else stage.numTasks
        for name, count in _stage_records(context, stage_id).items():
            rows[name] += count
    found: dict[str, Any] = {"job_ids": job_ids, "stages": len(stage_ids), "tasks": tasks}
    if failed:
        found["failed_job_ids"] = failed
    if context.uiWebUrl:
        found.update(rows)
    return found


@contextlib.contextmanager
def spark_jobs(spark: Any, description: str) -> Iterator[dict[str, Any]]:
    """Tag the Spark jobs started in the block; afterwards the yielded dict holds their
    metadata: application id and, for classic sessions, job ids, stage and task counts and
    (when the Spark UI runs) input and output rows."""
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
