"""Memo status: whether a memoized run would take a step's outputs from the store, and if
not, why the step runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from solidflow.engine.events.records import EventRecord
from solidflow.engine.memo.memoization import MemoKeys
from solidflow.engine.memo.reasons import PreviousRun, RerunCause, rerun_causes
from solidflow.engine.store import OutputStatus
from solidflow.engine.store.records import Assessment

MEMOIZED = "memoized"


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


def memo_statuses(
    keys: Mapping[str, MemoKeys],
    found: Mapping[str, Assessment],
    memoized: set[str],
    last_end: Callable[[str], EventRecord | None],
    mode_of_run: Callable[[str], str | None],
    mode: str,
) -> list[StepMemoStatus]:
    """The memo status of every step of `keys`, in their order. `found` assesses every output
    key, `memoized` are the steps whose outputs are all present, `last_end(step)` is the
    step's latest STEP_SUCCESS or STEP_MEMOIZED event in an earlier run (None if none),
    `mode_of_run(run_id)` the mode of an earlier run and `mode` the mode of this one."""
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
            previous = None
            if event is not None:
                lineage = event.payload.get("lineage")
                previous = PreviousRun(lineage=lineage, mode=mode_of_run(event.run_id))
            absent = next(
                (a for a in assessments if a.status is not OutputStatus.PRESENT),
                Assessment(status=OutputStatus.MISSING),
            )
            causes = rerun_causes(memo_keys, previous, absent, mode)
        statuses.append(
            StepMemoStatus(
                step=step,
                memoized=step in memoized,
                reason=MEMOIZED
                if step in memoized
                else "runs: " + "; ".join(cause.message for cause in causes),
                causes=causes,
                memo_key=memo_keys.memo_key,
                output_keys=dict(memo_keys.output_keys),
                source_run_id=source,
            )
        )
    return statuses
