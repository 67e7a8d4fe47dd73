"""Event records: what happened during a run, one immutable record per event."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

RECORD_SCHEMA_VERSION = 1


class EventType(str, Enum):
    """Every kind of event a run can produce."""

    RUN_START = "RUN_START"
    RUN_SUCCESS = "RUN_SUCCESS"
    RUN_FAILURE = "RUN_FAILURE"
    RUN_CANCELED = "RUN_CANCELED"
    STEP_START = "STEP_START"
    STEP_INPUT = "STEP_INPUT"
    STEP_OUTPUT = "STEP_OUTPUT"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_MEMOIZED = "STEP_MEMOIZED"
    STEP_RETRY = "STEP_RETRY"
    RESOURCE_INIT = "RESOURCE_INIT"
    RESOURCE_TEARDOWN = "RESOURCE_TEARDOWN"
    MATERIALIZATION = "MATERIALIZATION"
    EXPECTATION = "EXPECTATION"
    LOG = "LOG"


RUN_END_TYPES = frozenset({EventType.RUN_SUCCESS, EventType.RUN_FAILURE, EventType.RUN_CANCELED})


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One event of one run.

    Args:
        run_id: the run the event belongs to.
        seq: position of the event in its run, assigned by the run's event sink (0, 1, 2, ...).
        timestamp: seconds since the epoch when the event happened.
        type: what happened.
        step: the step key (the solid's name in the pipeline), or None for run-level events.
        payload: event-specific fields; plain msgpack-serialisable values only.
    """

    run_id: str
    seq: int
    timestamp: float
    type: EventType
    step: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """A one-line human description of the event."""
        return str(self.payload.get("message", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": RECORD_SCHEMA_VERSION,
            "run_id": self.run_id,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "type": self.type.value,
            "step": self.step,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventRecord:
        return cls(
            run_id=data["run_id"],
            seq=data["seq"],
            timestamp=data["timestamp"],
            type=EventType(data["type"]),
            step=data["step"],
            payload=data["payload"],
        )


_INT_RANGE = (-(2**63), 2**64 - 1)


def to_plain(value: Any, depth: int = 0) -> Any:
    """`value` made msgpack-safe: containers recursively, numpy scalars as Python values, text
    that cannot be UTF-8 encoded escaped, ints beyond 64 bits and anything else as repr."""
    if value is None or isinstance(value, (bool, float, bytes)):
        return value
    if isinstance(value, int):
        return value if _INT_RANGE[0] <= value <= _INT_RANGE[1] else repr(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if depth < 8 and isinstance(value, dict):
        return {str(to_plain(k, depth + 1)): to_plain(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return to_plain(item(), depth + 1)
    return to_plain(repr(value), depth + 1) if depth < 9 else "<unprintable>"
