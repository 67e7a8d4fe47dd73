"""What the driver sends step-worker actors and what they send back.

Plain lists, dicts, strings and numbers, which Ray serialises with msgpack (dataclasses would
be pickled, several times slower on both sides), object refs, and user values that are small
enough to travel with a result.
"""

from __future__ import annotations

from typing import Any

from solidflow.definitions.graph import FanIn, FromOutput, FromValue
from solidflow.engine.plan.steps import FromLoader, StepInputSource

INLINE_LIMIT = 64 * 1024
"""Outputs up to this many bytes (encoded) travel with the step's result, through the driver;
larger ones stay in the worker that made them, or go to the object store (see `Where`)."""


class Where:
    """How an output, or an input handle, travels: the first item of its wire list."""

    VALUE = "v"
    """["v", value]: the value itself, small, serialised by Ray."""
    PICKLED = "p"
    """["p", payload]: a small value pickled by the worker (cloudpickle), unpickled where used."""
    REF = "r"
    """["r", ObjectRef]: a large value in Ray's object store."""
    WORKER = "w"
    """["w", step, output] as an input: the value is in the cache of the worker the step is
    sent to; ["w"] as an output: it stays there, for steps sent to that worker."""
    STORE = "s"
    """["s", key] as an input: read it from the intermediate store; ["s"] as an output: nowhere
    but the store (no step of the run reads it)."""


KEEP = 1
"""Output flag: steps of the run read this output; the worker keeps it for those sent to it."""
EXPORT = 2
"""Output flag: several steps read this output; a large one goes to the object store at once."""


class Status:
    """How a step sent to a worker ended: the second item of its result."""

    SUCCESS = 0
    FAILURE = 1
    SKIPPED = 2
    """An upstream step failed (on the same worker): its name is the result's `skipped` item."""
    CANCELED = 3
    LOST_INPUT = 4
    """An input could not be fetched (its worker died): the result's `skipped` item names
    the (step, output) lost; the producing step must run again."""
    NOT_PRODUCED = 5
    """Outputs it reads were not produced (optional outputs): the result's `skipped` item
    lists them ("step.output"); it did not run."""
    RESOURCE_FAILED = 6
    """A resource it needs failed to initialise: the result's `skipped` item names it."""


WireStep = list[Any]
"""A step sent to a worker: [step key, solid token, config, inputs, handles, output keys,
memo key, lineage, outputs missing, replace outputs, attempt, output flags]. `inputs` are encoded by
`encode_source`; `handles` are the wire handles of the addresses the inputs read, in
`addresses_read` order; `output flags` maps output names to KEEP | EXPORT."""

WireResult = list[Any]
"""How a step ended: [step key, Status, events, message, error (ErrorInfo.as_dict()) or None,
skipped-because or None, {output: wire output} (on success), attempt]. Events are
[type, step, packed payload, time] lists."""


def encode_source(source: StepInputSource) -> list[Any]:
    """An input source as plain data (for step-worker actors and step tasks alike)."""
    if isinstance(source, FromOutput):
        return ["output", source.node, source.output]
    if isinstance(source, FanIn):
        return ["fan_in", [[s.node, s.output] for s in source.sources]]
    if isinstance(source, FromLoader):
        return ["loader", source.value]
    return ["value", source.value]


def decode_source(wire: list[Any]) -> StepInputSource:
    """The input source `encode_source` encoded."""
    kind = wire[0]
    if kind == "output":
        return FromOutput(wire[1], wire[2])
    if kind == "fan_in":
        return FanIn(tuple(FromOutput(node, output) for node, output in wire[1]))
    if kind == "loader":
        return FromLoader(wire[1])
    return FromValue(wire[1])
