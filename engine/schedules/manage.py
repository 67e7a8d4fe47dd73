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


def load_schedules(locations: Iterable[str]) -> dict[str, ScheduleDefinition]:
    """The schedules defined at the top level of each file ("path/to/file.py") or module
    ("package.module") of a workspace, by name.

    Raises:
        TargetError: a location cannot be loaded, or two schedules have the same name.
    """
    found: dict[str, ScheduleDefinition] = {}
    where: dict[str, str] = {}
    for location in locations:
        module = import_location(location)
        for value in vars(module).values():
            if not isinstance(value, ScheduleDefinition) or found.get(value.name) is value:
                continue
            if value.name in found:
                raise TargetError(
                    f"two schedules are named '{value.name}': in {where[value.name]} and "
                    f"in {location}"
                )
            found[value.name] = value
            where[value.name] = location
    return found


def find_schedule(schedules: Mapping[str, ScheduleDefinition], name: str) -> ScheduleDefinition:
    """The schedule `name`; TargetError naming the known ones if there is none."""
    if name not in schedules:
        known = ", ".join(sorted(schedules)) or "none (give the files or modules that define them)"
        raise TargetError(f"no schedule named '{name}' in the workspace; schedules: {known}")
    return schedules[name]


def schedule_ticks(instance: Instance, name: str, limit: int | None = None) -> list[TickRecord]:
    """The recorded ticks of the schedule `name`, latest first, at most `limit` of them."""
    return instance.storage.get_ticks(name, limit=limit)


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
        name, pipeline, cron, timezone, catchup: what the schedule says.
        status: RUNNING or STOPPED (never started: STOPPED).
        next_tick: when it is next due (seconds since the epoch).
        last_tick: its latest recorded tick, if any.
    """

    name: str
    pipeline: str
    cron: str
    timezone: str
    catchup: str
    status: ScheduleStatus
    next_tick: float
    last_tick: TickRecord | None


def list_schedules(
    instance: Instance, schedules: Mapping[str, ScheduleDefinition], now: float
) -> list[ScheduleInfo]:
    """Each schedule with its status, next tick and latest tick, by name."""
    infos = []
    for name in sorted(schedules):
        definition = schedules[name]
        state = instance.storage.get_schedule_state(name)
        last = instance.storage.get_ticks(name, limit=1)
        infos.append(
            ScheduleInfo(
                name=name,
                pipeline=definition.pipeline.name,
                cron=definition.cron,
                timezone=definition.timezone,
                catchup=definition.catchup,
                status=state.status if state is not None else ScheduleStatus.STOPPED,
                next_tick=ticks_after(definition.cron, definition.zone, now, 1)[0],
                last_tick=last[0] if last else None,
            )
        )
    return infos


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
