"""Event and run records as rows of the tables of SQL event logs, and back."""

from __future__ import annotations

import dataclasses
from typing import Any

from solidflow.engine.events.records import (
    EventRecord,
    pack_payload,
    stored_record,
    unpack_payload,
)
from solidflow.engine.instance.runs import RunRecord, RunStatus

STEP_END_TYPES = "('STEP_SUCCESS', 'STEP_MEMOIZED')"
"""The events that record a step's lineage, as an SQL list (literal: a partial index on them
is only used by queries that name them the same way)."""
EVENT_COLUMNS = "run_id, seq, timestamp, type, step, payload"


def latest_step_end_query(placeholder: str) -> str:
    """The query for the latest event that ended `step` in a run of `pipeline_name` (its two
    parameters, in that order, written as `placeholder` in the backend's dialect)."""
    columns = ", ".join(f"e.{column}" for column in EVENT_COLUMNS.split(", "))
    return (
        f"SELECT {columns} FROM events e JOIN runs r ON e.run_id = r.run_id"
        f" WHERE e.step = {placeholder} AND e.type IN {STEP_END_TYPES}"
        f" AND r.pipeline_name = {placeholder} ORDER BY e.id DESC LIMIT 1"
    )


# The runs table has one column per RunRecord field: a new field needs a migration.
RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunRecord))
RUN_COLUMNS = ", ".join(RUN_FIELDS)


def event_row(record: EventRecord) -> tuple[Any, ...]:
    """The values of the event columns (EVENT_COLUMNS) of `record`."""
    return (
        record.run_id,
        record.seq,
        record.timestamp,
        record.type.value,
        record.step,
        record.packed_payload,
    )


def event_from_row(row: tuple[Any, ...]) -> EventRecord:
    """The event whose EVENT_COLUMNS hold `row`."""
    run_id, seq, timestamp, type_, step, payload = row
    return stored_record(run_id, seq, timestamp, type_, step, bytes(payload))


_PACKED_RUN_FIELDS = ("tags", "run_config", "step_keys", "solid_selection", "external_outputs")
"""Fields stored as msgpack; a NULL (a row from before they existed) reads as the default."""


def run_row(run: RunRecord) -> tuple[Any, ...]:
    """The values of the run columns (RUN_COLUMNS) of `run`."""
    values = {name: getattr(run, name) for name in RUN_FIELDS}
    values.update({name: pack_payload(values[name]) for name in _PACKED_RUN_FIELDS})
    values["status"] = run.status.value
    return tuple(values.values())


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def run_from_row(row: tuple[Any, ...]) -> RunRecord:
    """The run whose RUN_COLUMNS hold `row`."""
    values = dict(zip(RUN_FIELDS, row, strict=True))
    for name in _PACKED_RUN_FIELDS:
        if values[name] is None:
            del values[name]
        else:
            values[name] = unpack_payload(values[name])
    for name in ("step_keys", "solid_selection", "external_outputs"):
        if name in values:
            values[name] = _tuples(values[name])
    values["status"] = RunStatus(values["status"])
    values["memoize"] = bool(values["memoize"])
    return RunRecord(**values)
