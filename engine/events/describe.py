"""One line of text for an event, as every face shows it."""

from __future__ import annotations

from solidflow.engine.events.records import EventRecord, EventType


def describe_event(event: EventRecord) -> str:
    """The event's message, or a summary of its payload when it has none."""
    payload = event.payload
    kind = event.type
    if payload.get("message"):
        return str(payload["message"])
    if kind in (EventType.STEP_INPUT, EventType.STEP_OUTPUT):
        side = "input" if kind is EventType.STEP_INPUT else "output"
        verdict = "passed" if payload.get("type_check") else "FAILED"
        return f"{side} '{payload.get(side)}' type check {verdict} ({payload.get('type')})"
    if kind is EventType.STEP_SUCCESS:
        return f"succeeded in {payload.get('duration_ms')} ms"
    if kind is EventType.STEP_START:
        return f"started (attempt {payload.get('attempt')}, pid {payload.get('pid')})"
    if kind is EventType.MATERIALIZATION:
        return f"materialized {payload.get('asset_key')}"
    if kind is EventType.EXPECTATION:
        verdict = "passed" if payload.get("success") else "FAILED"
        return f"expectation '{payload.get('label')}' {verdict}"
    return ""
