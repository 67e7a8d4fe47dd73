"""Event records: what happened during a run, one immutable record per event."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import msgpack

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


class EventRecord:
    """One event of one run (immutable).

    Args:
        run_id: the run the event belongs to.
        seq: position of the event in its run, assigned by the run's event sink (0, 1, 2, ...).
        timestamp: seconds since the epoch when the event happened.
        type: what happened.
        step: the step key (the solid's name in the pipeline), or None for run-level events.
        payload: event-specific fields; plain msgpack-serialisable values only.
        packed_payload: instead of `payload`, the payload as `pack_payload` made it; it is
            unpacked when first read (events that travel between processes and into the event
            log stay packed unless somebody looks at them).
    """

    __slots__ = ("_packed", "_payload", "run_id", "seq", "step", "timestamp", "type")

    run_id: str
    seq: int
    timestamp: float
    type: EventType
    step: str | None
    _payload: dict[str, Any] | None
    _packed: bytes | None

    def __init__(
        self,
        *,
        run_id: str,
        seq: int,
        timestamp: float,
        type: EventType,
        step: str | None = None,
        payload: dict[str, Any] | None = None,
        packed_payload: bytes | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "run_id", run_id)
        init(self, "seq", seq)
        init(self, "timestamp", timestamp)
        init(self, "type", type)
        init(self, "step", step)
        init(self, "_payload", {} if payload is None and packed_payload is None else payload)
        init(self, "_packed", packed_payload)

    @property
    def payload(self) -> dict[str, Any]:
        """Event-specific fields."""
        payload = self._payload
        if payload is None:
            assert self._packed is not None  # one of the two is always set
            payload = unpack_payload(self._packed)
            object.__setattr__(self, "_payload", payload)
        return payload

    @property
    def packed_payload(self) -> bytes:
        """The payload packed by `pack_payload`."""
        packed = self._packed
        if packed is None:
            packed = pack_payload(self._payload)
            object.__setattr__(self, "_packed", packed)
        return packed

    @property
    def message(self) -> str:
        """A one-line human description of the event."""
        return str(self.payload.get("message", ""))

    def _fields(self) -> tuple[Any, ...]:
        return (self.run_id, self.seq, self.timestamp, self.type, self.step, self.payload)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventRecord):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # the payload is a dict

    def __repr__(self) -> str:
        return (
            f"EventRecord(run_id={self.run_id!r}, seq={self.seq!r}, "
            f"timestamp={self.timestamp!r}, type={self.type!r}, step={self.step!r}, "
            f"payload={self.payload!r})"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"EventRecord is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EventRecord is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.run_id, self.seq, self.timestamp, self.type, self.step)
        return _restore_record, (*fields, self._payload, self._packed)

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


def _slot_setter(name: str) -> Callable[[EventRecord, Any], None]:
    """The setter of EventRecord's slot `name`, which bypasses its immutability."""
    setter: Callable[[EventRecord, Any], None] = vars(EventRecord)[name].__set__
    return setter


_new_record = object.__new__
_set_run_id = _slot_setter("run_id")
_set_seq = _slot_setter("seq")
_set_timestamp = _slot_setter("timestamp")
_set_type = _slot_setter("type")
_set_step = _slot_setter("step")
_set_payload = _slot_setter("_payload")
_set_packed = _slot_setter("_packed")


def stored_record(
    run_id: str, seq: int, timestamp: float, type_value: str, step: str | None, packed: bytes
) -> EventRecord:
    """The record of an event as the event log stores it (its type's value, its payload
    packed): what EventRecord(...) makes, at half the cost, for readers of long logs."""
    record = _new_record(EventRecord)
    _set_run_id(record, run_id)
    _set_seq(record, seq)
    _set_timestamp(record, timestamp)
    _set_type(record, EVENT_TYPES[type_value])
    _set_step(record, step)
    _set_payload(record, None)
    _set_packed(record, packed)
    return record


def _restore_record(
    run_id: str,
    seq: int,
    timestamp: float,
    type: EventType,
    step: str | None,
    payload: dict[str, Any] | None,
    packed: bytes | None,
) -> EventRecord:
    return EventRecord(
        run_id=run_id,
        seq=seq,
        timestamp=timestamp,
        type=type,
        step=step,
        payload=payload,
        packed_payload=packed,
    )


def pack_payload(payload: Any) -> bytes:
    """msgpack bytes of `payload`; what msgpack cannot encode is packed in its `to_plain` form."""
    packed: bytes
    try:
        packed = msgpack.packb(payload, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):  # UnicodeEncodeError is a ValueError
        packed = msgpack.packb(to_plain(payload), use_bin_type=True)
    return packed


def unpack_payload(data: bytes) -> Any:
    """The value `pack_payload` packed."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


EVENT_TYPES: dict[str, EventType] = {member.value: member for member in EventType}
"""Each EventType by its value (a dict lookup is several times cheaper than EventType(value))."""


MSGPACK_INTS = range(-(2**63), 2**64)
"""The integers msgpack encodes."""


def to_plain(value: Any, depth: int = 0) -> Any:
    """`value` made msgpack-safe: containers recursively, numpy scalars as Python values, text
    that cannot be UTF-8 encoded escaped, ints beyond 64 bits and anything else as repr."""
    if value is None or isinstance(value, (bool, float, bytes)):
        return value
    if isinstance(value, int):
        return value if value in MSGPACK_INTS else repr(value)
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
