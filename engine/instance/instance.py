"""The instance: solidflow's home directory, its config, and the runs and events stored there."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from solidflow.engine.events.records import RUN_END_TYPES, EventRecord, EventType
from solidflow.engine.instance.config import EventLogConfig, InstanceConfig
from solidflow.engine.instance.runs import RunRecord, RunStatus, process_exited
from solidflow.engine.instance.sqlite import SqliteStorage
from solidflow.engine.instance.storage import DuplicateRecordError, InstanceStorage

_WATCH_PAGE = 1000


StorageFactory = Callable[[EventLogConfig], InstanceStorage]

STORAGE_BACKENDS: dict[str, StorageFactory] = {
    "sqlite": lambda config: SqliteStorage(config.path),
}


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
        self._config = InstanceConfig.load(self._home)
        self._storage: InstanceStorage | None = None
        self._lock = threading.Lock()
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
        return self._config

    @property
    def storage(self) -> InstanceStorage:
        """The event log and run storage, opened on first use."""
        if self._storage is None:
            with self._lock:
                if self._storage is None:
                    factory = STORAGE_BACKENDS[self._config.event_log.backend]
                    self._storage = factory(self._config.event_log)
        return self._storage

    def close(self) -> None:
        """Close the storage if it was opened."""
        if self._storage is not None:
            self._storage.close()

    def add_run(self, run: RunRecord) -> None:
        self.storage.add_run(run)

    def set_run_status(self, run_id: str, status: RunStatus, end_time: float | None = None) -> None:
        self.storage.update_run_status(run_id, status, end_time)

    def store_events(self, records: Sequence[EventRecord]) -> None:
        self.storage.store_events(records)

    def runs(
        self, status: RunStatus | str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs (only those in `status` if given), newest first; dead runs are failed first."""
        for run in self.storage.get_runs(RunStatus.STARTED):
            if self._process_gone(run):
                self._fail_dead_run(run)
        return self.storage.get_runs(None if status is None else RunStatus(status), limit)

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id (failed first if it is dead), None if there is none."""
        run = self.storage.get_run(run_id)
        if run is not None and self._process_gone(run):
            run = self._fail_dead_run(run)
        return run

    def events(self, run_id: str, after: int = -1) -> list[EventRecord]:
        """The stored events of `run_id` with seq > `after`, ordered by seq."""
        return self.storage.get_events(run_id, after)

    def watch(
        self,
        run_id: str,
        after: int = -1,
        poll_interval: float = 0.1,
        timeout: float | None = None,
    ) -> Iterator[EventRecord]:
        """Yield the events of `run_id` with seq > `after` as they are stored.

        Stops after the run's RUN_SUCCESS or RUN_FAILURE event, once the run is found ended
        (or dead, which fails it) and its events are exhausted, or after `timeout` seconds.

        Raises:
            KeyError: there is no run `run_id` (raised once its stored events are exhausted).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.storage.get_events(run_id, after, _WATCH_PAGE)
            ended = False
            if not batch:
                run = self.get_run(run_id)
                if run is None:
                    raise KeyError(f"no run {run_id!r} in {self._home}")
                if run.status is not RunStatus.STARTED:
                    ended = True
                    batch = self.storage.get_events(run_id, after)
            for event in batch:
                yield event
                if event.type in RUN_END_TYPES:
                    return
            if batch:
                after = batch[-1].seq
            remaining = None if deadline is None else deadline - time.monotonic()
            if ended or (remaining is not None and remaining <= 0):
                return
            if not batch:
                time.sleep(poll_interval if remaining is None else min(poll_interval, remaining))

    def _process_gone(self, run: RunRecord) -> bool:
        return (
            run.status is RunStatus.STARTED
            and run.hostname == self._hostname
            and process_exited(run.pid, run.process_start)
        )

    def _fail_dead_run(self, run: RunRecord) -> RunRecord:
        """Record the end of a run whose process exited without recording it."""
        last = self.storage.last_seq(run.run_id)
        tail = self.storage.get_events(run.run_id, after=last - 1) if last >= 0 else []
        if tail and tail[0].type in RUN_END_TYPES:
            # The run's end event was stored but the process died before updating the status.
            ok = tail[0].type is EventType.RUN_SUCCESS
            status, end_time = (RunStatus.SUCCESS if ok else RunStatus.FAILURE), tail[0].timestamp
        else:
            status, end_time = RunStatus.FAILURE, time.time()
            message = f"run process {run.pid} on {run.hostname} exited without finishing the run"
            failure = EventRecord(
                run_id=run.run_id,
                seq=last + 1,
                timestamp=end_time,
                type=EventType.RUN_FAILURE,
                payload={"message": message},
            )
            with contextlib.suppress(DuplicateRecordError):  # another reader was first
                self.storage.store_events([failure])
        self.storage.update_run_status(run.run_id, status, end_time)
        return dataclasses.replace(run, status=status, end_time=end_time)
