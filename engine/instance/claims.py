"""Claims on memo keys: which run computes a step that several live runs need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class StepClaim:
    """Run `run_id` computes the step whose memo key is `memo_key`; other runs that need the
    same outputs wait for them instead of computing them too. A claim holds while its run is
    alive and heartbeats; then another run may take it over.

    Args:
        memo_key: the step's memo key.
        run_id: the run that claimed it.
        step: the step's key in that run.
        claim_time: when it was claimed (or taken over), seconds since the epoch.
    """

    memo_key: str
    run_id: str
    step: str
    claim_time: float
