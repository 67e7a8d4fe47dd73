"""Records of schedules: whether each one runs, and its ticks (each time it was due)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ScheduleStatus(str, Enum):
    """Whether the daemon evaluates a schedule: RUNNING (started) or STOPPED."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleState:
    """What the instance keeps of a schedule between evaluations.

    Args:
        name: the schedule's name.
        status: whether it runs.
        cursor: seconds since the epoch up to which its ticks were evaluated (ticks after it
            are due); set when the schedule is started.
        update_time: when the state last changed.
    """

    name: str
    status: ScheduleStatus
    cursor: float | None
    update_time: float


class TickStatus(str, Enum):
    """How a tick ended: STARTED (being evaluated; a daemon that stopped meanwhile finishes
    it), SUCCESS (its run was queued), SKIPPED (not run: the catch-up policy or the schedule's
    function said so), FAILURE (its config could not be made or was invalid)."""

    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    SKIPPED = "SKIPPED"
    FAILURE = "FAILURE"


@dataclass(frozen=True, slots=True, kw_only=True)
class TickRecord:
    """One time a schedule was due.

    Args:
        key: the tick's idempotency key, "<schedule>@<tick time as ISO 8601 in UTC>": a tick
            is recorded, and its run queued, once.
        schedule: the schedule's name.
        tick_time: when it was due, seconds since the epoch.
        status: how its evaluation ended.
        run_id: the run it queued (for SUCCESS, and for a FAILURE whose run was recorded as
            failed), else None.
        error: why it failed or was skipped.
        create_time: when it was evaluated first.
    """

    key: str
    schedule: str
    tick_time: float
    status: TickStatus
    run_id: str | None = None
    error: str | None = None
    create_time: float
