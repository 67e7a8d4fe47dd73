"""The store keys that events name: the outputs a run read or produced."""

from __future__ import annotations

from solidflow.engine.events.records import EventRecord, EventType

KEYED_EVENT_TYPES = frozenset({EventType.RUN_START, EventType.STEP_OUTPUT, EventType.STEP_MEMOIZED})
"""The events that name store keys: a re-execution's RUN_START (the outputs of earlier runs
it reads), STEP_OUTPUT of a stored output, STEP_MEMOIZED (the outputs found stored)."""


def outputs_named(event: EventRecord) -> dict[tuple[str, str], str]:
    """The store key of each output that `event` says its run read or produced, by (step,
    output); only the payloads of KEYED_EVENT_TYPES are read (a payload without the fields
    names nothing)."""
    if event.type not in KEYED_EVENT_TYPES:
        return {}
    payload = event.payload
    if event.type is EventType.RUN_START:
        return {(step, output): key for step, output, key in payload.get("external", [])}
    if event.type is EventType.STEP_OUTPUT:
        stored = payload.get("stored") and "key" in payload
        return {(event.step or "", payload.get("output", "")): payload["key"]} if stored else {}
    output_keys = payload.get("output_keys", {})  # STEP_MEMOIZED
    return {(event.step or "", name): key for name, key in output_keys.items()}


def index_rows(records: list[EventRecord]) -> list[tuple[str, str]]:
    """(run_id, key) of every store key that `records` name, without repeats: the rows of the
    index of output keys per run that event logs keep for garbage collection."""
    rows: dict[tuple[str, str], None] = {}
    for record in records:
        if record.type in KEYED_EVENT_TYPES:
            for key in outputs_named(record).values():
                rows[(record.run_id, key)] = None
    return list(rows)
