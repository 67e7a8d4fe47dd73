"""Values crossing a step's boundary: outputs stored under their keys as their codecs say,
and stored datasets turned into what an input declares."""

from __future__ import annotations

from typing import Any

from solidflow.definitions.types import DataType
from solidflow.engine.events.records import EventType
from solidflow.engine.step.context import Emit, Resources, resource_values
from solidflow.engine.step.error_info import ErrorInfo, error_info
from solidflow.engine.step.task import StepTask
from solidflow.engine.store import StoredOutput
from solidflow.engine.store.codec_registry import codec_for_class, dataset_as
from solidflow.engine.store.codecs import DatasetNotWritable
from solidflow.engine.store.datasets import StoredDataset
from solidflow.engine.store.store import OutputOrigin
from solidflow.engine.store.write_behind import OutputStore, Pending


class StepError(Exception):
    """Fails the step with `message`; `kind` says what failed (as STEP_FAILURE reports)."""

    def __init__(
        self,
        message: str,
        kind: str,
        info: ErrorInfo | None = None,
        exception: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.info = info
        self.exception = exception


def store_output(
    task: StepTask, name: str, value: Any, store: OutputStore | None, emit: Emit
) -> tuple[dict[str, Any], Any]:
    """Persist one output under its key. Returns what the STEP_OUTPUT event says about it and
    the value steps downstream receive: the value itself or, for a value its codec writes as
    a dataset (a Spark DataFrame), the StoredDataset (so that they read what was stored, in
    whichever process they run).

    Writing a dataset runs the work that computes it (Spark jobs): if that fails, the step
    fails. Other values that cannot be stored only make a warning."""
    key = task.output_keys.get(name)
    if store is None or key is None:
        return {}, value
    where = OutputOrigin(run_id=task.run_id, step=task.step_key, output=name, lineage=task.lineage)
    codec = codec_for_class(type(value))
    if codec is not None and codec.writes_datasets:
        report: dict[str, Any] = {}

        def produce(location: str) -> None:
            label = f"solidflow: {task.step_key}.{name}"
            try:
                report.update(codec.write_dataset(value, location, label))
            except DatasetNotWritable as refused:
                store.write_table(location, refused.to_arrow())
                report["written_by"] = "store"
                message = f"output '{name}' of solid '{task.step_key}': {refused}"
                emit(EventType.LOG, task.step_key, {"level": "WARNING", "message": message})

        dataset = store.put_dataset(key, produce, python_type=codec.python_type, **where)
        payload = {**_stored_payload(dataset), "rows": dataset.rows, **report}
        return payload, StoredDataset.of(dataset)
    try:
        stored = store.put(
            key,
            value,
            **where,
            known_missing=task.outputs_missing,
            replace=task.replace_outputs,
        )
    except Exception as exc:
        emit(
            EventType.LOG,
            task.step_key,
            {
                "level": "WARNING",
                "message": f"output '{name}' of solid '{task.step_key}' could not be stored "
                f"({type(exc).__name__}: {error_info(exc).message}); later runs cannot reuse it",
            },
        )
        return {"key": key, "stored": False}, value
    return _stored_payload(stored), value


def _stored_payload(stored: StoredOutput | Pending) -> dict[str, Any]:
    return {
        "key": stored.key,
        "stored": True,
        "serializer": stored.serializer,
        "bytes": stored.bytes,
    }


def as_input(value: Any, data_type: DataType, resources: Resources, where: str) -> Any:
    """The input value a solid receives: a stored dataset becomes the declared type."""
    if not isinstance(value, StoredDataset):
        return value
    try:
        return dataset_as(value, data_type.python_types, resource_values(resources))
    except Exception as exc:
        info = error_info(exc)
        message = f"{where}: could not read the stored dataset {value.location}: {info.message}"
        raise StepError(message, "input", info, exc) from None
