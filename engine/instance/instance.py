"""The instance: solidflow's home directory, its config, and the runs and events stored there."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from solidflow.engine.events.records import RUN_END_TYPES, EventRecord
from solidflow.engine.instance.config_file import (
    CONFIG_FILE,
    DEFAULT_EVENT_LOG_FILE,
    DEFAULT_HEARTBEAT_TIMEOUT,
    InstanceConfigError,
    has_settings,
)
from solidflow.engine.instance.runs import END_EVENTS, RunRecord, RunStatus, why_dead
from solidflow.engine.instance.storage import (
    EVENT_LOGS,
    DuplicateRecordError,
    InstanceStorage,
    MigrationReport,
    Recovery,
)
from solidflow.engine.registry import PluginError
from solidflow.errors import EventLogError, RunRequestError

if TYPE_CHECKING:
    from solidflow.engine.instance.config import InstanceConfig

_WATCH_PAGE = 1000
_LIVENESS_CHECK = 1.0
"""Seconds a watch waits for news from a storage that tells of new events, before it looks at
the run again (a driver that died sends none)."""


class Instance:
    """solidflow's home directory: its config, and the runs and events stored there.

    Args:
        home: the home directory; defaults to $SOLIDFLOW_HOME, else ~/.solidflow.

    Raises:
        InstanceConfigError: `<home>/solidflow.yaml` is invalid.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        if home is None:
            home = os.environ.get("SOLIDFLOW_HOME") or Path.home() / ".solidflow"
        self._home = Path(home).expanduser().resolve()
        self._lock = threading.Lock()
        # An instance with no settings of its own has the defaults, which need no validating
        # (nor the import of its machinery): they are made when first asked for.
        self._config = self._load_config() if has_settings(self._home) else None
        self._storage: InstanceStorage | None = None
        self._hostname = socket.gethostname()

    def __repr__(self) -> str:
        return f"Instance({str(self._home)!r})"

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def home(self) -> Path:
        return self._home

    @property
    def config(self) -> InstanceConfig:
        if self._config is None:
            with self._lock:
                if self._config is None:
                    self._config = self._load_config()
        return self._config

    def _load_config(self) -> InstanceConfig:
        from solidflow.engine.instance.config import InstanceConfig

        return InstanceConfig.load(self._home)

    @property
    def storage(self) -> InstanceStorage:
        """The event log and run storage, opened on first use."""
        if self._storage is None:
            with self._lock:
                if self._storage is None:
                    self._storage = self._open_storage()
        return self._storage

    def _open_storage(self) -> InstanceStorage:
        if self._config is None:  # the defaults: the SQLite log in the home
            from solidflow.engine.instance.sqlite import SqliteStorage

            return SqliteStorage(self._home / DEFAULT_EVENT_LOG_FILE, self._home)
        settings = self._config.event_log
        try:
            backend = EVENT_LOGS.load(settings.backend)
        except PluginError as error:
            raise InstanceConfigError(
                f"{self._home / CONFIG_FILE}: event_log.backend: {error}"
            ) from None
        return backend.from_config(settings.settings, self._home)

    def close(self) -> None:
        """Close the storage if it was opened."""
        if self._storage is not None:
            self._storage.close()

    def add_run(self, run: RunRecord) -> None:
        self.storage.add_run(run)

    def set_run_status(self, run_id: str, status: RunStatus, end_time: float | None = None) -> None:
        self.storage.update_run(run_id, status=status, end_time=end_time)

    def delete_run(self, run_id: str) -> bool:
        """Delete a run's record, events and index of output keys (not its stored outputs:
        see `solidflow.engine.delete_runs`); whether it existed."""
        return self.storage.delete_run(run_id)

    def migrate(self, progress: Callable[[str], object] = print) -> MigrationReport:
        """Bring the storage's schema to the version this solidflow knows (see
        `InstanceStorage.migrate`)."""
        return self.storage.migrate(progress)

    def store_events(self, records: Sequence[EventRecord]) -> None:
        self.storage.store_events(records)

    def runs(
        self, status: RunStatus | str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs (only those in `status` if given), newest first; dead runs are ended first."""
        for run in self.storage.get_runs([s for s in RunStatus if s.alive]):
            self._ended_if_dead(run)
        return self.storage.get_runs(None if status is None else RunStatus(status), limit)

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id (ended first if it is dead), None if there is none."""
        run = self.storage.get_run(run_id)
        return None if run is None else self._ended_if_dead(run)

    def cancel_run(self, run_id: str) -> RunRecord:
        """Ask for run `run_id` to stop; any process may ask. A QUEUED run is CANCELED at
        once; a STARTING or STARTED run becomes CANCELING, and its driver stops it and records
        it CANCELED. Returns the run's record after the request.

        Raises:
            RunRequestError: there is no such run, or it already ended.
        """
        while True:
            run = self.get_run(run_id)
            if run is None:
                raise RunRequestError(f"no run with id '{run_id}' in {self._home}")
            if run.status.ended:
                raise RunRequestError(f"run {run_id} already ended: {run.status.value}")
            if run.status is RunStatus.CANCELING:
                return run
            if run.status is RunStatus.QUEUED:
                ended = self.end_run(
                    run, RunStatus.CANCELED, "run canceled before it started", expected=[run.status]
                )
                if ended is not None:
                    return ended
            elif self.storage.update_run(run_id, expected=[run.status], status=RunStatus.CANCELING):
                return dataclasses.replace(run, status=RunStatus.CANCELING)
            # the run moved on meanwhile (launched, started or ended): look again

    def end_run(
        self,
        run: RunRecord,
        status: RunStatus,
        message: str,
        *,
        expected: Collection[RunStatus] | None = None,
    ) -> RunRecord | None:
        """Record the end of a run that no driver ends: its status and end time, if its status
        is one of `expected`, then its RUN_SUCCESS, RUN_FAILURE or RUN_CANCELED event.
        Returns the ended record, None if its status was not expected."""
        end_time = time.time()
        if not self.storage.update_run(
            run.run_id, expected=expected, status=status, end_time=end_time
        ):
            return None
        event = EventRecord(
            run_id=run.run_id,
            seq=self.storage.last_seq(run.run_id) + 1,
            timestamp=end_time,
            type=END_EVENTS[status],
            payload={"message": message},
        )
        with contextlib.suppress(DuplicateRecordError):  # its driver wrote one meanwhile
            self.storage.store_events([event])
        return dataclasses.replace(run, status=status, end_time=end_time)

    def recover_event_log(self) -> Recovery:
        """Check the event log and, if it is damaged, set it aside and copy the runs and
        events that can still be read into a new one (`solidflow recover`)."""
        return self.storage.recover()

    def events(self, run_id: str, after: int = -1) -> list[EventRecord]:
        """The stored events of `run_id` with seq > `after`, ordered by seq."""
        return self.storage.get_events(run_id, after)

    def event_pages(
        self, run_id: str, after: int = -1, size: int = _WATCH_PAGE
    ) -> Iterator[list[EventRecord]]:
        """The stored events of `run_id` with seq > `after`, ordered by seq, in lists of at
        most `size` (read one at a time, so a long log starts at once and is never whole in
        memory)."""
        while page := self.storage.get_events(run_id, after, size):
            yield page
            if len(page) < size:
                return
            after = page[-1].seq

    def watch(
        self,
        run_id: str,
        after: int = -1,
        poll_interval: float = 0.1,
        timeout: float | None = None,
    ) -> Iterator[EventRecord]:
        """Yield the events of `run_id` with seq > `after` as they are stored: a storage that
        tells of new events (PostgreSQL's notifications) wakes the watch, others are read
        again every `poll_interval` seconds.

        Stops after the run's RUN_SUCCESS or RUN_FAILURE event, once the run is found ended
        (or dead, which fails it) and its events are exhausted, or after `timeout` seconds.

        Raises:
            KeyError: there is no run `run_id` (raised once its stored events are exhausted).
        """
        for page in self.watch_pages(run_id, after, poll_interval, timeout):
            yield from page

    def watch_pages(
        self,
        run_id: str,
        after: int = -1,
        poll_interval: float = 0.1,
        timeout: float | None = None,
    ) -> Iterator[list[EventRecord]]:
        """`watch`, a list of the events read at once at a time: a reader that buffers its
        output flushes it after each list, before the next one is waited for."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.storage.get_events(run_id, after, _WATCH_PAGE)
            ended = False
            if not batch:
                run = self.get_run(run_id)
                if run is None:
                    raise KeyError(f"no run {run_id!r} in {self._home}")
                if run.status.ended:
                    ended = True
                    batch = self.storage.get_events(run_id, after)
            end = next((i for i, e in enumerate(batch) if e.type in RUN_END_TYPES), None)
            if end is not None:
                yield batch[: end + 1]
                return
            if batch:
                yield batch
                after = batch[-1].seq
            remaining = None if deadline is None else deadline - time.monotonic()
            if ended or (remaining is not None and remaining <= 0):
                return
            if not batch:
                wait = _LIVENESS_CHECK if self.storage.notifies else poll_interval
                self.storage.wait_for_events(
                    run_id, after, wait if remaining is None else min(wait, remaining)
                )

    def _ended_if_dead(self, run: RunRecord) -> RunRecord:
        """`run`, or its ended record if its driver is dead (see `why_dead`)."""
        timeout = (
            DEFAULT_HEARTBEAT_TIMEOUT
            if self._config is None  # the defaults, not made for this
            else self._config.run_monitoring.heartbeat_timeout
        )
        reason = why_dead(run, now=time.time(), timeout=timeout, hostname=self._hostname)
        return run if reason is None else self.end_dead_run(run, reason)

    def end_dead_run(self, run: RunRecord, reason: str) -> RunRecord:
        """Record the end of `run`, whose driver is gone for `reason`: as the end event its
        driver stored, if it stored one before it died; else CANCELED for a CANCELING run and
        FAILURE for the others, with an end event that gives `reason`. Nothing changes if the
        run moved on meanwhile. Returns the run's record afterwards (on a read-only home or a
        full disk, how the run ended, without recording it)."""
        try:
            return self._record_dead(run, reason)
        except EventLogError as error:
            if error.reason == "damaged":
                raise
            status = RunStatus.CANCELED if run.status is RunStatus.CANCELING else RunStatus.FAILURE
            return dataclasses.replace(run, status=status)

    def _record_dead(self, run: RunRecord, reason: str) -> RunRecord:
        """Record the end of `run`, whose driver is dead for `reason`; its ended record."""
        last = self.storage.last_seq(run.run_id)
        tail = self.storage.get_events(run.run_id, after=last - 1) if last >= 0 else []
        if tail and tail[0].type in RUN_END_TYPES:
            # The run's end event was stored but its driver died before updating the status.
            status = {value: key for key, value in END_EVENTS.items()}[tail[0].type]
            end_time = tail[0].timestamp
            ended = (
                dataclasses.replace(run, status=status, end_time=end_time)
                if self.storage.update_run(
                    run.run_id, expected=[run.status], status=status, end_time=end_time
                )
                else None
            )
        elif run.status is RunStatus.CANCELING:
            ended = self.end_run(run, RunStatus.CANCELED, reason, expected=[run.status])
        else:
            ended = self.end_run(run, RunStatus.FAILURE, reason, expected=[run.status])
        if ended is None:  # another process ended it, or its driver came back: look again
            return self.storage.get_run(run.run_id) or run
        return ended
