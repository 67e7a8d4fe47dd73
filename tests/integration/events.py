"""What the integration tests read from a run's result."""

from __future__ import annotations

from solidflow.engine.events.records import EventRecord, EventType


def events_of(result, kind: EventType, step: str | None = None) -> list[EventRecord]:
    """The events of `kind` a run's result holds, of one step when `step` is given."""
    return [e for e in result.events if e.type is kind and (step is None or e.step == step)]
