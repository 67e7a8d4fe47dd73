"""Storage interfaces of the instance: the event log and the run registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, ClassVar

from solidflow.definitions.config import Config
from solidflow.engine.events.records import EventRecord
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.registry import Registry


class DuplicateRecordError(ValueError):
    """A write repeats a stored key (an event's (run_id, seq) or a run's id); nothing was stored."""


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

    @abstractmethod
    def close(self) -> None:
        """Release the storage's resources."""


MUTABLE_RUN_FIELDS = frozenset(
    {"status", "start_time", "end_time", "pid", "hostname", "process_start", "heartbeat"}
)
"""The fields of a RunRecord that change after the run is recorded."""


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
        self, run_id: str, *, expected: Collection[RunStatus] | None = None, **changes: Any
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
        """Delete a run and its events in one transaction; whether there was such a run."""

    @abstractmethod
    def get_runs(
        self, status: RunStatus | Collection[RunStatus] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs (only those in `status`, or in one of several, if given), newest first, at
        most `limit` of them."""


class InstanceStorage(EventLogStorage, RunStorage):
    """A storage backend holding both the event log and the runs of an instance.

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
    def latest_step_end(self, pipeline_name: str, step: str) -> EventRecord | None:
        """The most recently stored STEP_SUCCESS or STEP_MEMOIZED event (both record the
        step's lineage) of `step` in any run of the pipeline `pipeline_name` (it needs both
        the events and the runs)."""


EVENT_LOGS = Registry("event log backend", "solidflow.event_logs", InstanceStorage)
"""The event log backends (each also stores the runs)."""
