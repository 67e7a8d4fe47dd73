"""Steps that concurrent runs share: each is computed by the run that claims it first, and the
other runs that need it wait for its outputs instead of computing them again.

A memoized run claims the memo key of every step it is going to run, in one atomic step of
the instance's storage, after it looked for stored outputs. A step whose key another live run
holds is awaited: the run looks again every CLAIM_POLL seconds, and takes the step as
memoized once its outputs are stored, or claims and computes it itself once the claim is
gone (its holder failed the step, ended, or stopped sending heartbeats). A run releases the
claim of a step that failed or was canceled at once, and all its claims when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.engine.instance.claims import StepClaim
from solidflow.engine.instance.storage import StepClaimStorage
from solidflow.engine.memo.memoization import MemoKeys, memoized_payloads
from solidflow.engine.store import IntermediateStore, OutputStatus

CLAIM_POLL = 0.2
"""Seconds between two looks at an awaited step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """An awaited step's outputs are stored: the payload of its STEP_MEMOIZED event."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """An awaited step is now claimed by this run, which computes it."""

    taken_from: StepClaim


@dataclass(frozen=True, slots=True, kw_only=True)
class StillHeld:
    """An awaited step is still claimed by another live run."""

    claim: StepClaim


class SharedSteps:
    """The claims of one run on the steps it runs.

    Args:
        storage: where claims are kept (the instance's storage).
        run_id: the run.
        keys: the memo keys of the run's steps.
        open_store: opens the run's intermediate store, to look for awaited outputs.
        stale_after: seconds after its last heartbeat that a holder's claim lapses (the
            instance's heartbeat_timeout).
    """

    def __init__(
        self,
        storage: StepClaimStorage,
        run_id: str,
        keys: Mapping[str, MemoKeys],
        open_store: Callable[[], IntermediateStore],
        stale_after: float,
    ) -> None:
        self._storage = storage
        self._run_id = run_id
        self._keys = keys
        self._open_store = open_store
        self._stale_after = stale_after
        self._store: IntermediateStore | None = None
        self.held_elsewhere: dict[str, StepClaim] = {}
        """The steps another run computes, and its claim (by step key)."""

    def claim(self, steps: Iterable[str]) -> dict[str, StepClaim]:
        """Claim the steps this run is going to run; those another live run holds, by step."""
        wanted = {self._keys[step].memo_key: step for step in steps}
        held = self._storage.claim_steps(
            self._run_id, wanted, now=time.time(), stale_after=self._stale_after
        )
        self.held_elsewhere = {wanted[memo_key]: claim for memo_key, claim in held.items()}
        return dict(self.held_elsewhere)

    def poll(self, step: str) -> Served | Claimed | StillHeld:
        """Look again at an awaited step: stored by now, claimed by this run now, or still
        held by another run."""
        memo_keys = self._keys[step]
        found = self._opened_store().assess(list(memo_keys.output_keys.values()))
        if all(each.status is OutputStatus.PRESENT for each in found.values()):
            del self.held_elsewhere[step]
            payload = memoized_payloads({step: memo_keys}, {step}, found)[step]
            return Served(payload=payload)
        held = self._storage.claim_steps(
            self._run_id,
            {memo_keys.memo_key: step},
            now=time.time(),
            stale_after=self._stale_after,
        )
        claim = held.get(memo_keys.memo_key)
        if claim is not None:
            self.held_elsewhere[step] = claim
            return StillHeld(claim=claim)
        return Claimed(taken_from=self.held_elsewhere.pop(step))

    def release(self, step: str) -> None:
        """The step failed or was canceled here: other runs may compute it."""
        self._storage.release_step_claims(self._run_id, [self._keys[step].memo_key])

    def close(self) -> None:
        """The run ended: release every claim it holds, and close the store."""
        self._storage.release_step_claims(self._run_id)
        if self._store is not None:
            self._store.close()
            self._store = None

    def _opened_store(self) -> IntermediateStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store
