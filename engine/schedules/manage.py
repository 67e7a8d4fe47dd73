"""Schedules as users manage them: found in a workspace, started and stopped, listed with
their next and last ticks, and previewed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from solidflow.definitions.schedule import ScheduleDefinition
from solidflow.engine.executors import EXECUTORS
from solidflow.engine.instance import Instance
from solidflow.engine.instance.ticks import ScheduleState, ScheduleStatus, TickRecord
from solidflow.engine.plan.run_config import validate_run_config
from solidflow.engine.run.prepare import pipeline_mode, selected_nodes
from solidflow.engine.run.targets import import_location
from solidflow.engine.schedules.cron import ticks_after
from solidflow.errors import ConfigError, SelectionError, TargetError


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceSchedules:
    """The schedules found in a workspace, and what kept others from being found.

    Args:
        schedules: each schedule by name.
        problems: (location, message) for each location that cannot be loaded, or that
            defines a schedule whose name an earlier location took (its others are kept).
    """

    schedules: dict[str, ScheduleDefinition]
    problems: tuple[tuple[str, str], ...]


def collect_schedules(locations: Iterable[str]) -> WorkspaceSchedules:
    """The schedules defined at the top level of each file ("path/to/file.py") or module
    ("package.module") of a workspace; a location that fails is reported, not raised."""
    found: dict[str, ScheduleDefinition] = {}
    where: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for location in dict.fromkeys(locations):
        try:
            module = import_location(location)
        except TargetError as error:
            problems.append((location, str(error)))
            continue
        for value in vars(module).values():
            if not isinstance(value, ScheduleDefinition) or found.get(value.name) is value:
                continue
            if value.name in found:
                message = (
                    f"two schedules are named '{value.name}': in {where[value.name]} and "
                    f"in {location}"
                )
                problems.append((location, message))
                continue
            found[value.name] = value
            where[value.name] = location
    return WorkspaceSchedules(schedules=found, problems=tuple(problems))


def load_schedules(locations: Iterable[str]) -> dict[str, ScheduleDefinition]:
    """The schedules defined at the top level of each file or module of a workspace, by name.

    Raises:
        TargetError: a location cannot be loaded, or two schedules have the same name.
    """
    collected = collect_schedules(locations)
    if collected.problems:
        raise TargetError(collected.problems[0][1])
    return collected.schedules


def find_schedule(schedules: Mapping[str, ScheduleDefinition], name: str) -> ScheduleDefinition:
    """The schedule `name`; TargetError naming the known ones if there is none."""
    if name not in schedules:
        known = ", ".join(sorted(schedules)) or "none (give the files or modules that define them)"
        raise TargetError(f"no schedule named '{name}' in the workspace; schedules: {known}")
    return schedules[name]


def schedule_ticks(
    instance: Instance, name: str, limit: int | None = None, before: float | None = None
) -> list[TickRecord]:
    """The recorded ticks of the schedule `name`, latest first, at most `limit` of them; with
    `before`, only those due before that time (the tick_time of the last tick of the
    previous page)."""
    if before is None or limit is None:
        found = instance.storage.get_ticks(name, limit=limit if before is None else None)
        return found if before is None else [tick for tick in found if tick.tick_time < before]
    read = 2 * limit
    while True:  # read the latest ticks, twice as many each time, until the page is complete
        found = instance.storage.get_ticks(name, limit=read)
        earlier = [tick for tick in found if tick.tick_time < before]
        if len(earlier) >= limit or len(found) < read:
            return earlier[:limit]
        read *= 2


def start_schedule(instance: Instance, name: str, now: float) -> ScheduleState:
    """Start the schedule `name`: the daemon queues its ticks due after `now` (ticks before
    it are not caught up). Starting a running schedule changes nothing."""
    current = instance.storage.get_schedule_state(name)
    if current is not None and current.status is ScheduleStatus.RUNNING:
        return current
    state = ScheduleState(name=name, status=ScheduleStatus.RUNNING, cursor=now, update_time=now)
    instance.storage.set_schedule_state(state)
    return state


def stop_schedule(instance: Instance, name: str, now: float) -> ScheduleState:
    """Stop the schedule `name`: the daemon queues none of its ticks until it is started."""
    current = instance.storage.get_schedule_state(name)
    state = ScheduleState(
        name=name,
        status=ScheduleStatus.STOPPED,
        cursor=current.cursor if current is not None else None,
        update_time=now,
    )
    instance.storage.set_schedule_state(state)
    return state


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    """A schedule of the workspace, as `solidflow schedule list` shows it.

    Args:
        name, pipeline, cron, timezone, catchup, description: what the schedule says.
        status: RUNNING or STOPPED (never started: STOPPED).
        next_ticks: when it is next due (seconds since the epoch), in order.
        last_tick: its latest recorded tick, if any.
    """

    name: str
    pipeline: str
    cron: str
    timezone: str
    catchup: str
    description: str | None
    status: ScheduleStatus
    next_ticks: tuple[float, ...]
    last_tick: TickRecord | None

    @property
    def next_tick(self) -> float:
        """When it is next due."""
        return self.next_ticks[0]


def schedule_info(
    instance: Instance, definition: ScheduleDefinition, now: float, upcoming: int = 1
) -> ScheduleInfo:
    """The schedule `definition` with its status, its next `upcoming` ticks after `now` and
    its latest tick."""
    state = instance.storage.get_schedule_state(definition.name)
    last = instance.storage.get_ticks(definition.name, limit=1)
    return ScheduleInfo(
        name=definition.name,
        pipeline=definition.pipeline.name,
        cron=definition.cron,
        timezone=definition.timezone,
        catchup=definition.catchup,
        description=definition.description,
        status=state.status if state is not None else ScheduleStatus.STOPPED,
        next_ticks=tuple(ticks_after(definition.cron, definition.zone, now, max(upcoming, 1))),
        last_tick=last[0] if last else None,
    )


def list_schedules(
    instance: Instance,
    schedules: Mapping[str, ScheduleDefinition],
    now: float,
    upcoming: int = 1,
) -> list[ScheduleInfo]:
    """Each schedule (`schedule_info`), by name."""
    return [schedule_info(instance, schedules[name], now, upcoming) for name in sorted(schedules)]


@dataclass(frozen=True, slots=True, kw_only=True)
class TickPreview:
    """A coming tick of a schedule and the run_config its run would get.

    Args:
        tick_time: when it is due (seconds since the epoch).
        local_time: that moment in the schedule's timezone, ISO 8601.
        run_config: the config run_config_fn makes for it (None: it skips the tick, or
            raised).
        problems: what is wrong: run_config_fn raised, or the config is invalid (as
            "path: message"); empty when the run would be queued.
    """

    tick_time: float
    local_time: str
    run_config: dict[str, Any] | None
    problems: tuple[str, ...]


def preview_schedule(
    definition: ScheduleDefinition, now: float, count: int = 5
) -> list[TickPreview]:
    """The next `count` ticks of `definition` after `now`, each with the run_config its run
    would get and what is wrong with it (nothing is recorded or run)."""
    previews = []
    for tick_time in ticks_after(definition.cron, definition.zone, now, count):
        local = datetime.fromtimestamp(tick_time, definition.zone)
        problems: tuple[str, ...] = ()
        try:
            run_config = definition.run_config_for(local)
        except Exception as error:
            run_config, problems = None, (f"run_config_fn raised {type(error).__name__}: {error}",)
        if run_config is not None:
            problems = _config_problems(definition, run_config)
        elif not problems:
            problems = ("run_config_fn returned None: the tick is skipped",)
        previews.append(
            TickPreview(
                tick_time=tick_time,
                local_time=local.isoformat(),
                run_config=run_config,
                problems=problems,
            )
        )
    return previews


def _config_problems(definition: ScheduleDefinition, run_config: dict[str, Any]) -> tuple[str, ...]:
    try:
        pipeline = definition.pipeline
        selected = selected_nodes(pipeline, definition.solid_selection)
        mode = pipeline_mode(pipeline, definition.mode)
        validate_run_config(run_config, pipeline, mode, selected, EXECUTORS.config_schemas())
    except ConfigError as error:
        return tuple(f"{path}: {message}" if path else message for path, message in error.errors)
    except SelectionError as error:
        return (str(error),)
    return ()
