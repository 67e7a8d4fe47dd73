"""Memo status: whether a memoized run would take a step's outputs from the store, and if
not, why the step runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.engine.events.records import EventRecord
from solidflow.engine.memo.memoization import MemoKeys
from solidflow.engine.store import OutputStatus
from solidflow.engine.store.records import Assessment

MEMOIZED = "memoized"


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunCause:
    """One reason why a step runs instead of taking its outputs from the store.

    Args:
        kind: "no_earlier_run", "code_changed", "reached_code_changed", "config_changed",
            "resources_changed", "data_version_changed", "upstream_changed", "output_missing"
            or "output_corrupt".
        message: the reason in words, e.g. "upstream changed (x)".
    """

    kind: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepMemoStatus:
    """What a memoized run would do with one step.

    Args:
        step: the step key.
        memoized: whether every output of the step is stored and intact (it would not run).
        reason: "memoized", or "runs: " and the causes' messages, for people.
        causes: why the step runs, as data (empty when it is memoized).
        memo_key: the step's memo key.
        output_keys: the store key of each of its outputs.
        source_run_id: the run that stored the outputs (memoized), else the last run of the
            step that its lineage is compared with; None when there is none.
    """

    step: str
    memoized: bool
    reason: str
    causes: list[RerunCause]
    memo_key: str
    output_keys: dict[str, str]
    source_run_id: str | None


_CHANGES = (
    ("code_version", "code_changed", "code changed"),
    ("code", "reached_code_changed", "code it reaches changed"),
    ("config", "config_changed", "config changed"),
    ("resources", "resources_changed", "resources changed"),
    ("data_version", "data_version_changed", "data version changed"),
)


def rerun_causes(
    keys: MemoKeys, previous: Mapping[str, Any] | None, assessment: Assessment
) -> list[RerunCause]:
    """Why a step that is not memoized runs, given the lineage it had when it last ended
    (None if it never did) and the assessment of an output that is not PRESENT."""
    if previous is None:
        return [RerunCause(kind="no_earlier_run", message="no earlier run of this step")]
    current = keys.lineage
    causes = [
        RerunCause(kind=kind, message=message)
        for field, kind, message in _CHANGES
        if previous.get(field) != current[field]
    ]
    before = previous.get("inputs", {})
    inputs = [name for name, key in current["inputs"].items() if before.get(name) != key]
    if inputs:
        message = f"upstream changed ({', '.join(inputs)})"
        causes.append(RerunCause(kind="upstream_changed", message=message))
    if causes:
        return causes
    if assessment.status is OutputStatus.CORRUPT:
        message = f"output corrupt ({assessment.reason})"
        return [RerunCause(kind="output_corrupt", message=message)]
    return [RerunCause(kind="output_missing", message="output missing")]


def memo_statuses(
    keys: Mapping[str, MemoKeys],
    found: Mapping[str, Assessment],
    memoized: set[str],
    last_end: Callable[[str], EventRecord | None],
) -> list[StepMemoStatus]:
    """The memo status of every step of `keys`, in their order. `found` assesses every output
    key, `memoized` are the steps whose outputs are all present, and `last_end(step)` is the
    step's latest STEP_SUCCESS or STEP_MEMOIZED event in an earlier run (None if none)."""
    statuses = []
    for step, memo_keys in keys.items():
        assessments = [found[key] for key in memo_keys.output_keys.values()]
        if step in memoized:
            stored = next((a.present for a in assessments if a.present is not None), None)
            source = None if stored is None else stored.run_id
            causes: list[RerunCause] = []
        else:
            event = last_end(step)
            source = None if event is None else event.run_id
            lineage = None if event is None else event.payload.get("lineage")
            absent = next(
                (a for a in assessments if a.status is not OutputStatus.PRESENT),
                Assessment(status=OutputStatus.MISSING),
            )
            causes = rerun_causes(memo_keys, lineage, absent)
        statuses.append(
            StepMemoStatus(
                step=step,
                memoized=step in memoized,
                reason=MEMOIZED
                if step in memoized
                else "runs: " + ", ".join(cause.message for cause in causes),
                causes=causes,
                memo_key=memo_keys.memo_key,
                output_keys=dict(memo_keys.output_keys),
                source_run_id=source,
            )
        )
    return statuses
