"""Run records, and how to tell whether the process running a run is still alive."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from solidflow.engine.events.records import EventType

_LINUX = sys.platform.startswith("linux")


class RunStatus(str, Enum):
    """Where a run is in its life.

    QUEUED (recorded, nothing runs) -> STARTING (a launcher starts its driver) -> STARTED (the
    driver runs it) -> SUCCESS or FAILURE; a cancel turns QUEUED into CANCELED at once and
    STARTING or STARTED into CANCELING, which the driver ends as CANCELED.
    """

    QUEUED = "QUEUED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"

    @property
    def ended(self) -> bool:
        """Whether the run is over (SUCCESS, FAILURE or CANCELED)."""
        return self in _ENDED

    @property
    def alive(self) -> bool:
        """Whether a driver is (or should be) running the run: STARTING, STARTED, CANCELING."""
        return self in _ALIVE


_ENDED = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})
END_EVENTS = {
    RunStatus.SUCCESS: EventType.RUN_SUCCESS,
    RunStatus.FAILURE: EventType.RUN_FAILURE,
    RunStatus.CANCELED: EventType.RUN_CANCELED,
}
"""The event that records the end of a run with each final status."""
_ALIVE = frozenset({RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING})


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One run of a pipeline, as recorded by the instance.

    Args:
        run_id: unique id of the run.
        pipeline_name: name of the pipeline that runs.
        status: where the run is in its life.
        create_time: seconds since the epoch when the run was requested (recorded QUEUED).
        start_time: when its driver started it, None before.
        end_time: when the run ended, None before.
        tags: free-form labels.
        mode: the pipeline mode the run uses.
        target: how to load the pipeline again, e.g. "examples/hello.py:hello".
        run_config: the run's config; plain msgpack-serialisable values only.
        parent_run_id: the run this one re-executes, if any.
        root_run_id: the first run of a chain of re-executions, if any.
        step_keys: the steps of the run's plan (the selected solids), in plan order.
        solid_selection: the selection query the steps come from, None for all of them.
        executor: the executor's registered name or "package.module:Class".
        memoize: whether steps whose outputs are stored are skipped.
        external_outputs: (step, output, store key) of each output of an unselected step
            that the run reads from an earlier run (re-execution).
        pid: id of the driver process (of the launched process while STARTING).
        hostname: host of that process.
        process_start: token telling that process apart from a later one with the same pid
            (see `process_token`), None where the platform gives none.
        heartbeat: when the driver last said it is alive (while STARTING: when it was
            launched).
        launcher: the run launcher that started the run (its registered name or
            "package.module:Class"), None before it was launched.
    """

    run_id: str
    pipeline_name: str
    status: RunStatus
    create_time: float
    start_time: float | None = None
    end_time: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    mode: str = "default"
    target: str | None = None
    run_config: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    root_run_id: str | None = None
    step_keys: tuple[str, ...] = ()
    solid_selection: tuple[str, ...] | None = None
    executor: str | None = None
    memoize: bool = False
    external_outputs: tuple[tuple[str, str, str], ...] = ()
    pid: int | None = None
    hostname: str | None = None
    process_start: str | None = None
    heartbeat: float | None = None
    launcher: str | None = None

    @property
    def last_sign_of_life(self) -> float:
        """When the run was last known to be alive: its heartbeat, else its start, else its
        creation."""
        for moment in (self.heartbeat, self.start_time):
            if moment is not None:
                return moment
        return self.create_time


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 and later of /proc/<pid>/stat, None if the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read().decode("latin-1")
    except OSError:
        return None
    # Field 2 is the command name in parentheses and may itself contain spaces or ")".
    return data[data.rindex(")") + 2 :].split()


def process_token(pid: int) -> str | None:
    """A token identifying the process `pid` (its start time on Linux, else None)."""
    if not _LINUX:
        return None
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


def current_process_token() -> str | None:
    """A token identifying this process instance (its start time on Linux, else None)."""
    return process_token(os.getpid())


def process_exited(pid: int, token: str | None) -> bool:
    """Whether the local process `pid`, started as `token`, has exited.

    A zombie counts as exited, and so does a live process whose start token differs from
    `token` (the pid was reused). Without a token only the pid is checked.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # the process exists but belongs to another user
    if not _LINUX:
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return True
    state, start = fields[0], fields[19]
    return state in ("Z", "X") or (token is not None and start != token)


def why_dead(run: RunRecord, *, now: float, timeout: float, hostname: str) -> str | None:
    """Why the driver of `run` must be dead, None if it may be alive.

    A run that should have a driver (STARTING, STARTED, CANCELING) is dead when its process
    ran on `hostname` and has exited, or (STARTED, CANCELING) when its last sign of life is
    older than `timeout` seconds (see `heartbeat_silence`).
    """
    if not run.status.alive:
        return None
    if (
        run.pid is not None
        and run.hostname == hostname
        and process_exited(run.pid, run.process_start)
    ):
        return f"run process {run.pid} on {run.hostname} exited without finishing the run"
    return heartbeat_silence(run, now=now, timeout=timeout)


def heartbeat_silence(run: RunRecord, *, now: float, timeout: float) -> str | None:
    """Why the driver of `run` must be dead judging by its heartbeat alone, as seen from any
    host (the hosts' clocks must agree within `timeout`): its last sign of life is older than
    `timeout` seconds. None if it may be alive. A STARTING run has no heartbeat yet (its driver
    boots, or its job waits for resources): only its launcher can tell."""
    if run.status not in (RunStatus.STARTED, RunStatus.CANCELING):
        return None
    silent = now - run.last_sign_of_life
    if silent > timeout:
        driver = f"process {run.pid} on {run.hostname}" if run.pid is not None else "driver"
        return (
            f"run {driver} stopped sending heartbeats: the last was {silent:.0f} s ago "
            f"(heartbeat_timeout: {timeout:g} s)"
        )
    return None
