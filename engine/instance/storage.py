"""Storage interfaces of the instance: the event log, the run registry, schedules and their
ticks, claims on the steps that concurrent runs share, and the leases of live runs on stored
outputs."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from solidflow.engine.events.records import EventRecord
from solidflow.engine.instance.claims import StepClaim
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.ticks import ScheduleState, TickRecord, TickStatus
from solidflow.engine.registry import Registry
from solidflow.errors import EventLogError, SolidflowError

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from solidflow.definitions.config import Config


class DuplicateRecordError(ValueError):
    """A write repeats a stored key (an event's (run_id, seq) or a run's id); nothing was stored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovery:
    """What recovering an event log did (`solidflow recover`).

    Args:
        path: the event log.
        damage: what SQLite found wrong with it, None if nothing (then nothing else changed).
        moved_to: where the damaged file was set aside.
        runs: the run records copied into the new event log.
        rebuilt: run records rebuilt from their events (their records could not be read).
        events: the events copied.
        unreadable: (table, first rowid, last rowid) of the ranges that could not be read.
    """

    path: str
    damage: str | None
    moved_to: str | None = None
    runs: int = 0
    rebuilt: int = 0
    events: int = 0
    unreadable: tuple[tuple[str, int, int], ...] = ()


class EventLogStorage(ABC):
    """Where the events of every run are stored."""

    @abstractmethod
    def store_events(self, records: Sequence[EventRecord]) -> None:
        """Store `records` in one atomic transaction: all of them or, on error, none.

        Raises:
            DuplicateRecordError: a record's (run_id, seq) is already stored or repeated.
        """

    @abstractmethod
    def get_events(
        self, run_id: str, after: int = -1, limit: int | None = None
    ) -> list[EventRecord]:
        """The events of `run_id` with seq > `after`, ordered by seq, at most `limit` of them."""

    @abstractmethod
    def last_seq(self, run_id: str) -> int:
        """The highest stored seq of `run_id`, -1 if it has no events."""

    ingest_batch: ClassVar[int] = 1000
    """How many events a run's writer buffers before it stores them (see EventSink)."""

    notifies: ClassVar[bool] = False
    """Whether `wait_for_events` returns as soon as events are stored (else it sleeps)."""

    def wait_for_events(self, run_id: str, after: int, timeout: float) -> None:
        """Return once `run_id` may have events with seq > `after` or its record may have
        changed, or after `timeout` seconds. This default sleeps `timeout`: a backend that
        can be told of new events returns sooner (and sets `notifies`)."""
        time.sleep(timeout)

    @abstractmethod
    def close(self) -> None:
        """Release the storage's resources."""

    def recover(self) -> Recovery:
        """Check the event log and, if it is damaged, replace it with what can still be read
        of it; backends that cannot do this raise EventLogError."""
        raise EventLogError(
            f"the event log {self!r} cannot be recovered by solidflow: see its backend's "
            "documentation",
            path=repr(self),
            reason="unavailable",
        )


class RunChanges(TypedDict, total=False):
    """New values of the fields of a RunRecord that change after the run is recorded."""

    status: RunStatus
    start_time: float | None
    end_time: float | None
    pid: int | None
    hostname: str | None
    process_start: str | None
    heartbeat: float | None
    launcher: str | None


MUTABLE_RUN_FIELDS = RunChanges.__optional_keys__
"""The fields of a RunRecord that change after the run is recorded."""


def run_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` to a stored run as column values (a status by its value).

    Raises:
        ValueError: a field is not in MUTABLE_RUN_FIELDS, or none is given.
    """
    unknown = set(changes) - MUTABLE_RUN_FIELDS
    if unknown or not changes:
        raise ValueError(f"cannot change run fields {sorted(unknown) or 'none given'}")
    if "status" in changes:
        changes = {**changes, "status": RunStatus(changes["status"]).value}
    return changes


class RunStorage(ABC):
    """Where the record of every run is stored."""

    @abstractmethod
    def add_run(self, run: RunRecord) -> None:
        """Store a new run.

        Raises:
            DuplicateRecordError: a run with the same id is already stored.
        """

    @abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        expected: Collection[RunStatus] | None = None,
        **changes: Unpack[RunChanges],
    ) -> bool:
        """Change fields of a stored run in one atomic step, if its status is one of
        `expected` (whatever it is when None); whether it changed them. Only
        `MUTABLE_RUN_FIELDS` can change.

        Raises:
            KeyError: no run has this id.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, None if there is none."""

    @abstractmethod
    def delete_run(self, run_id: str) -> bool:
        """Delete a run, its events and its output keys in one transaction; whether there was
        such a run."""

    @abstractmethod
    def output_keys(self, run_ids: Collection[str]) -> set[str]:
        """The store keys of the outputs that the runs `run_ids` read or produced (an index
        kept from their events: see `solidflow.engine.events.store_keys`)."""

    @abstractmethod
    def referenced_keys(self, keys: Collection[str], excluding: Collection[str] = ()) -> set[str]:
        """The keys among `keys` that some stored run (other than those in `excluding`) read
        or produced."""

    @abstractmethod
    def get_runs(
        self, status: RunStatus | Collection[RunStatus] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs (only those in `status`, or in one of several, if given), newest first, at
        most `limit` of them."""


class ScheduleStorage(ABC):
    """Where the state of every schedule and its ticks are stored."""

    @abstractmethod
    def get_schedule_state(self, name: str) -> ScheduleState | None:
        """The stored state of the schedule `name`, None if it was never started."""

    @abstractmethod
    def set_schedule_state(self, state: ScheduleState) -> None:
        """Store the state of a schedule, replacing the one stored."""

    @abstractmethod
    def add_tick(self, tick: TickRecord) -> None:
        """Store a new tick.

        Raises:
            DuplicateRecordError: a tick with the same key is already stored.
        """

    @abstractmethod
    def update_tick(
        self, key: str, *, status: TickStatus, run_id: str | None = None, error: str | None = None
    ) -> TickRecord:
        """Record how the tick `key` ended; the updated record.

        Raises:
            KeyError: no tick has this key.
        """

    @abstractmethod
    def get_ticks(
        self, schedule: str, *, key: str | None = None, limit: int | None = None
    ) -> list[TickRecord]:
        """The ticks of `schedule` (only the one with `key`, if given), latest tick time
        first, at most `limit` of them."""


class StepClaimStorage(ABC):
    """Where runs claim the steps they compute, so that concurrent runs that need the same
    outputs compute them once."""

    @abstractmethod
    def claim_steps(
        self, run_id: str, steps: Mapping[str, str], *, now: float, stale_after: float
    ) -> dict[str, StepClaim]:
        """Claim, in one atomic step, each memo key of `steps` (memo key -> step key) for run
        `run_id`, unless another run holds it and is alive: its status is STARTING, STARTED
        or CANCELING and its last sign of life is at most `stale_after` seconds older than
        `now`. A claim of a run that is not alive is taken over. Returns the claims held by
        other runs, by memo key (the keys not among them are claimed by `run_id`)."""

    @abstractmethod
    def release_step_claims(self, run_id: str, memo_keys: Collection[str] | None = None) -> None:
        """Drop the claims of run `run_id` on `memo_keys` (on all of them when None)."""


class LeaseStorage(ABC):
    """Where live runs record the store keys they may read or write (their leases), so that
    garbage collection, on any host that shares the storage, never deletes those outputs."""

    @abstractmethod
    def take_lease(self, run_id: str, keys: Iterable[str]) -> AbstractContextManager[None]:
        """Record (replacing any earlier one) that run `run_id` may read or write the outputs
        under `keys`; nobody holds the leases (`held_leases`) until the block, in which the
        run looks its keys up in the store, ends."""

    @abstractmethod
    def release_lease(self, run_id: str) -> None:
        """Forget the lease of run `run_id`, if it has one."""

    @abstractmethod
    def held_leases(self) -> AbstractContextManager[dict[str, set[str]]]:
        """Hold the leases: while the block runs, no run takes one; it gets the keys of
        every stored lease by run id."""

    @abstractmethod
    def stored_leases(self) -> dict[str, set[str]]:
        """The keys of every stored lease by run id, without waiting for runs taking one."""

    foreign_runs: bool = False
    """Whether it holds leases of runs that other instances know, not this one's (a store
    that hosts share): those are kept until the storage forgets them."""

    def may_delete(self) -> bool:
        """Whether the holder of the leases (`held_leases`) may still delete: always, for a
        storage that excludes runs by a lock for the whole block."""
        return True


class SchemaVersionError(SolidflowError, RuntimeError):
    """A storage's schema is newer than this solidflow knows, or older than it needs."""


class StorageUnavailableError(SolidflowError, ConnectionError):
    """The storage's server cannot be reached; the message names it (without a password)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationReport:
    """What a schema migration did.

    Args:
        location: the storage migrated (a file or a URL without its password).
        from_version: the schema version found.
        to_version: the schema version now.
        batches: the transactions that filled new tables from the stored events.
        rows: the events those batches read.
        longest_batch: the seconds the longest of those transactions took (writers wait for
            at most that long).
    """

    location: str
    from_version: int
    to_version: int
    batches: int = 0
    rows: int = 0
    longest_batch: float = 0.0


class InstanceStorage(EventLogStorage, RunStorage, ScheduleStorage, StepClaimStorage, LeaseStorage):
    """A storage backend holding the event log, the runs, schedules, step claims and the
    leases of an instance.

    Backends are found by name in the `solidflow.event_logs` entry point group, or by
    "package.module:Class"; `event_log: {backend: NAME, ...}` in solidflow.yaml picks one,
    its other keys are the backend's settings (`config_schema`).
    """

    config_schema: ClassVar[type[Config]]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Config, home: Path) -> InstanceStorage:
        """The storage with these settings, for the instance whose home is `home`."""

    @abstractmethod
    def migrate(self, progress: Callable[[str], object] = print) -> MigrationReport:
        """Bring the schema to the version this solidflow knows, in batches that writers
        may interleave with; `progress` is told what is done.

        Raises:
            SchemaVersionError: the schema is newer than this solidflow knows.
        """

    @abstractmethod
    def latest_step_end(self, pipeline_name: str, step: str) -> EventRecord | None:
        """The most recently stored STEP_SUCCESS or STEP_MEMOIZED event (both record the
        step's lineage) of `step` in any run of the pipeline `pipeline_name` (it needs both
        the events and the runs)."""


EVENT_LOGS = Registry[InstanceStorage]("event log backend", "solidflow.event_logs", InstanceStorage)
"""The event log backends (each also stores the runs)."""
