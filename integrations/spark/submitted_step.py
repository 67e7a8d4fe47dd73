"""The Spark driver program of a solid launched with spark-submit: runs the step in this
process with the SparkSession spark-submit configured, writing events and the result to the
exchange directory given as the only argument."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import cloudpickle

from solidflow.definitions.resource import as_resource_definition
from solidflow.engine.events.records import EventType
from solidflow.engine.plan.steps import ResourceSpec
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step_here
from solidflow.engine.step.task import StepResult
from solidflow.engine.store import IntermediateStore
from solidflow.integrations.spark import exchange
from solidflow.integrations.spark.jobs import application_id


def _dumps(value: object) -> bytes:
    data: bytes = cloudpickle.dumps(value)
    return data


def _pickled(result: StepResult) -> bytes:
    """`result` pickled, without what cannot travel back to the launching process."""
    try:
        return _dumps(result)
    except Exception:
        pass
    try:
        cloudpickle.dumps(result.exception)
    except Exception:
        result = dataclasses.replace(result, exception=None)
    try:
        return _dumps(result)
    except Exception as exc:  # the outputs
        message = (
            f"solid '{result.step_key}' produced outputs that cannot be sent back from the "
            f"Spark driver ({type(exc).__name__}: {exc})"
        )
        return _dumps(StepResult(step_key=result.step_key, success=False, message=message))


def _with_application(message: str | None, app_id: str | None) -> str | None:
    return message if app_id is None else f"{message} (Spark application {app_id})"


def main(directory: Path) -> int:
    from pyspark.sql import SparkSession

    submission = exchange.load(directory / exchange.TASK)
    events = exchange.EventWriter(directory / exchange.EVENTS)
    spark = SparkSession.builder.getOrCreate()
    app_id = application_id(spark)
    task = submission["task"]

    def emit(event_type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        if event_type in (EventType.STEP_START, EventType.STEP_SUCCESS):
            payload = {**payload, "spark_application_id": app_id}
        elif event_type is EventType.STEP_FAILURE:
            message = _with_application(payload.get("message"), app_id)
            payload = {**payload, "message": message, "spark_application_id": app_id}
        events.write(event_type.value, step, payload)

    specs = dict(submission["resources"])
    specs["spark"] = ResourceSpec(definition=as_resource_definition(spark), config=None)
    resources = ResourceManager(task.run_id, specs, emit)
    root, options = submission["store"]
    store = IntermediateStore(root, options) if root else None
    try:
        result = run_step_here(task, submission["inputs"], resources, emit, store)
    finally:
        resources.teardown()
        if store is not None:
            store.close()
        events.close()
    if not result.success:
        result = dataclasses.replace(result, message=_with_application(result.message, app_id))
    exchange.write_atomically(directory / exchange.RESULT, _pickled(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
