"""Schedules: run a pipeline on a cron schedule, with a config made for each tick."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.solid import check_name
from solidflow.errors import DefinitionError

CatchupPolicy = Literal["none", "latest", "all"]
CATCHUP_POLICIES: tuple[str, ...] = ("none", "latest", "all")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleContext:
    """What a schedule's run_config_fn receives for a tick.

    Args:
        schedule_name: the schedule's name.
        scheduled_time: when the tick was due, in the schedule's timezone.
    """

    schedule_name: str
    scheduled_time: datetime


RunConfigFn = Callable[..., Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleDefinition:
    """A pipeline run on a cron schedule.

    Args:
        name: unique name of the schedule.
        cron: when it is due, a cron expression ("0 * * * *": at the start of every hour),
            read in `timezone`.
        pipeline: the pipeline each tick runs.
        run_config_fn: makes the run_config of a tick from its ScheduleContext (or from
            nothing); None for an empty config. Returning None skips the tick.
        timezone: the IANA timezone the cron expression is read in ("Europe/Berlin").
        tags: tags of every run it queues.
        mode: the pipeline mode its runs use.
        solid_selection: the solids its runs run (all by default).
        catchup: which ticks missed while no daemon ran are run when one runs again: "none"
            (none), "latest" (the most recent one only) or "all" (each one within
            `catchup_window`).
        catchup_window: seconds back from now within which missed ticks are caught up
            ("all"), or a missed tick is still run ("none", for a daemon a little late).
        description: what the schedule is for.
    """

    name: str
    cron: str
    pipeline: PipelineDefinition
    run_config_fn: RunConfigFn | None = None
    timezone: str = "UTC"
    tags: Mapping[str, str] = field(default_factory=dict)
    mode: str | None = None
    solid_selection: tuple[str, ...] | None = None
    catchup: CatchupPolicy = "latest"
    catchup_window: float = 86_400.0
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "schedule")
        if not isinstance(self.pipeline, PipelineDefinition):
            raise DefinitionError(
                f"schedule '{self.name}': pipeline must be a pipeline, not {self.pipeline!r}"
            )
        if not isinstance(self.cron, str) or not croniter.is_valid(self.cron):
            raise DefinitionError(
                f"schedule '{self.name}': {self.cron!r} is not a valid cron expression "
                "(five fields: minute hour day-of-month month day-of-week)"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise DefinitionError(
                f"schedule '{self.name}': unknown timezone {self.timezone!r} "
                "(an IANA name such as 'Europe/Berlin' or 'UTC')"
            ) from None
        if self.catchup not in CATCHUP_POLICIES:
            raise DefinitionError(
                f"schedule '{self.name}': catchup must be one of {', '.join(CATCHUP_POLICIES)}, "
                f"not {self.catchup!r}"
            )
        if not self.catchup_window > 0:
            raise DefinitionError(f"schedule '{self.name}': catchup_window must be positive")
        if self.run_config_fn is not None and not callable(self.run_config_fn):
            raise DefinitionError(f"schedule '{self.name}': run_config_fn must be callable")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def run_config_for(self, scheduled_time: datetime) -> dict[str, Any] | None:
        """The run_config of the tick due at `scheduled_time` (None: skip the tick). Raises
        what run_config_fn raises, and DefinitionError if it returns no mapping."""
        if self.run_config_fn is None:
            return {}
        context = ScheduleContext(schedule_name=self.name, scheduled_time=scheduled_time)
        takes_context = bool(inspect.signature(self.run_config_fn).parameters)
        config = self.run_config_fn(context) if takes_context else self.run_config_fn()
        if config is None:
            return None
        if not isinstance(config, Mapping):
            raise DefinitionError(
                f"run_config_fn of schedule '{self.name}' returned {type(config).__name__}, "
                "not a mapping (a run_config) or None (skip the tick)"
            )
        return dict(config)


@overload
def schedule(
    cron: str,
    pipeline: PipelineDefinition,
    run_config_fn: None = None,
    *,
    name: str | None = None,
    timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    mode: str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    catchup: CatchupPolicy = "latest",
    catchup_window: float = 86_400.0,
    description: str | None = None,
) -> Callable[[RunConfigFn], ScheduleDefinition]: ...


@overload
def schedule(
    cron: str,
    pipeline: PipelineDefinition,
    run_config_fn: RunConfigFn,
    *,
    name: str | None = None,
    timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    mode: str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    catchup: CatchupPolicy = "latest",
    catchup_window: float = 86_400.0,
    description: str | None = None,
) -> ScheduleDefinition: ...


def schedule(
    cron: str,
    pipeline: PipelineDefinition,
    run_config_fn: RunConfigFn | None = None,
    *,
    name: str | None = None,
    timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    mode: str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    catchup: CatchupPolicy = "latest",
    catchup_window: float = 86_400.0,
    description: str | None = None,
) -> ScheduleDefinition | Callable[[RunConfigFn], ScheduleDefinition]:
    """Run `pipeline` on the cron schedule `cron` (see ScheduleDefinition for the options).

    As a decorator, the decorated function is the run_config_fn and names the schedule::

        @schedule(cron="0 3 * * *", pipeline=nightly, timezone="Europe/Berlin")
        def nightly_at_three(context):
            return {"solids": {"load": {"config": {"day": context.scheduled_time.date().isoformat()}}}}

    Called with `run_config_fn` (and `name` unless it has one), it returns the schedule itself;
    `ScheduleDefinition(name=..., cron=..., pipeline=...)` makes one whose runs have an empty
    config.
    """

    def build(fn: RunConfigFn | None) -> ScheduleDefinition:
        schedule_name = name or getattr(fn, "__name__", None)
        if not schedule_name:
            raise DefinitionError("a schedule needs a name (name=...)")
        selection = (solid_selection,) if isinstance(solid_selection, str) else solid_selection
        return ScheduleDefinition(
            name=schedule_name,
            cron=cron,
            pipeline=pipeline,
            run_config_fn=fn,
            timezone=timezone,
            tags={str(key): str(value) for key, value in (tags or {}).items()},
            mode=mode,
            solid_selection=tuple(selection) if selection is not None else None,
            catchup=catchup,
            catchup_window=float(catchup_window),
            description=description or (inspect.getdoc(fn) if fn is not None else None),
        )

    if run_config_fn is not None:
        return build(run_config_fn)
    return build
