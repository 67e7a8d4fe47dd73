"""Run records, and how to tell whether the process running a run is still alive."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

_LINUX = sys.platform.startswith("linux")


class RunStatus(str, Enum):
    """Where a run is in its life."""

    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One run of a pipeline, as recorded by the instance.

    Args:
        run_id: unique id of the run.
        pipeline_name: name of the pipeline that runs.
        status: where the run is in its life.
        start_time: seconds since the epoch when the run started.
        end_time: seconds since the epoch when the run ended, None while it runs.
        tags: free-form labels.
        mode: the pipeline mode the run uses.
        target: how to load the pipeline again, e.g. "examples/hello.py:hello".
        run_config: the run's config; plain msgpack-serialisable values only.
        parent_run_id: the run this one re-executes, if any.
        root_run_id: the first run of a chain of re-executions, if any.
        pid: id of the process that runs the run.
        hostname: host of that process.
        process_start: token telling that process apart from a later one with the same pid
            (see `current_process_token`), None where the platform gives none.
    """

    run_id: str
    pipeline_name: str
    status: RunStatus
    start_time: float
    pid: int
    hostname: str
    end_time: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    mode: str = "default"
    target: str | None = None
    run_config: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    root_run_id: str | None = None
    process_start: str | None = None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 and later of /proc/<pid>/stat, None if the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read().decode("latin-1")
    except OSError:
        return None
    # Field 2 is the command name in parentheses and may itself contain spaces or ")".
    return data[data.rindex(")") + 2 :].split()


def current_process_token() -> str | None:
    """A token identifying this process instance (its start time on Linux, else None)."""
    if not _LINUX:
        return None
    fields = _stat_fields(os.getpid())
    return None if fields is None else fields[19]


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
