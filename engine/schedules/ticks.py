"""Evaluating schedules: each due tick is recorded once, under an idempotency key, and queues
one run, whose id is derived from that key; missed ticks are caught up by the schedule's
catch-up policy."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone

from solidflow.definitions.schedule import ScheduleDefinition
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.instance.storage import DuplicateRecordError
from solidflow.engine.instance.tags import SCHEDULE_TAG, TICK_TAG
from solidflow.engine.instance.ticks import ScheduleStatus, TickRecord, TickStatus
from solidflow.engine.run.create import request_run
from solidflow.engine.run.prepare import pipeline_target
from solidflow.engine.schedules.cron import ticks_until
from solidflow.errors import ConfigError, DefinitionError, SelectionError

logger = logging.getLogger("solidflow")

ON_TIME = 60.0
"""Seconds after its time within which a tick counts as on time (the "none" policy runs only
those)."""
MAX_TICKS = 1000
"""Most ticks of one schedule looked at in one evaluation (the latest ones)."""
_TICK_RUNS = uuid.UUID("6f1d1c2e-8e57-4c5e-9a43-1d6d0f0b9a11")
"""Namespace of the run ids derived from tick keys."""


def tick_key(schedule: str, tick_time: float) -> str:
    """The idempotency key of the tick of `schedule` due at `tick_time`."""
    moment = datetime.fromtimestamp(tick_time, timezone.utc).isoformat(timespec="seconds")
    return f"{schedule}@{moment}"


def tick_run_id(key: str) -> str:
    """The id of the run that the tick `key` queues (the same in every process)."""
    return uuid.uuid5(_TICK_RUNS, key).hex


def _by_policy(definition: ScheduleDefinition, due: list[float], now: float) -> list[float]:
    """The due ticks (latest first) that the catch-up policy runs."""
    if definition.catchup == "latest":
        return due[:1]
    limit = ON_TIME if definition.catchup == "none" else definition.catchup_window
    return [tick for tick in due if now - tick <= limit]


def evaluate_schedule(
    instance: Instance, definition: ScheduleDefinition, now: float
) -> list[TickRecord]:
    """Queue the runs of the ticks of `definition` due by `now` (seconds since the epoch) since
    it was last evaluated, if it is RUNNING; the ticks evaluated, oldest first. Ticks the
    catch-up policy leaves out are recorded as SKIPPED. A tick already recorded is not
    evaluated again, so a daemon that restarts queues no run twice."""
    storage = instance.storage
    state = storage.get_schedule_state(definition.name)
    if state is None or state.status is not ScheduleStatus.RUNNING:
        return []
    since = state.cursor if state.cursor is not None else now
    due = ticks_until(definition.cron, definition.zone, now, since, MAX_TICKS)
    if not due:
        return []
    chosen = set(_by_policy(definition, due, now))
    ticks = []
    for tick_time in sorted(due):
        if tick_time in chosen:
            ticks.append(_run_tick(instance, definition, tick_time, now))
        else:
            reason = f"missed while no daemon ran (catchup: {definition.catchup})"
            ticks.append(_record(instance, definition, tick_time, now, TickStatus.SKIPPED, reason))
    storage.set_schedule_state(dataclasses.replace(state, cursor=now, update_time=now))
    return ticks


def evaluate_schedules(
    instance: Instance, definitions: Iterable[ScheduleDefinition], now: float
) -> list[TickRecord]:
    """`evaluate_schedule` for each schedule; a schedule that fails to evaluate (its storage,
    not its ticks: those record their errors) is logged and the others go on."""
    ticks = []
    for definition in definitions:
        try:
            ticks.extend(evaluate_schedule(instance, definition, now))
        except Exception:
            logger.exception("schedule %s could not be evaluated", definition.name)
    return ticks


def _record(
    instance: Instance,
    definition: ScheduleDefinition,
    tick_time: float,
    now: float,
    status: TickStatus,
    error: str | None = None,
) -> TickRecord:
    """The tick, recorded with `status` unless it was recorded before (then as it is)."""
    key = tick_key(definition.name, tick_time)
    tick = TickRecord(
        key=key,
        schedule=definition.name,
        tick_time=tick_time,
        status=status,
        error=error,
        create_time=now,
    )
    try:
        instance.storage.add_tick(tick)
    except DuplicateRecordError:
        return instance.storage.get_ticks(definition.name, key=key)[0]
    return tick


def _run_tick(
    instance: Instance, definition: ScheduleDefinition, tick_time: float, now: float
) -> TickRecord:
    """Queue the run of a tick (once: a tick found STARTED, whose evaluation a stopped daemon
    left unfinished, is finished)."""
    tick = _record(instance, definition, tick_time, now, TickStatus.STARTED)
    if tick.status is not TickStatus.STARTED:
        return tick
    storage = instance.storage
    run_id = tick_run_id(tick.key)
    run = storage.get_run(run_id)
    if run is None:
        scheduled = datetime.fromtimestamp(tick_time, definition.zone)
        try:
            run_config = definition.run_config_for(scheduled)
        except Exception as error:
            message = f"run_config_fn raised {type(error).__name__}: {error}"
            return storage.update_tick(tick.key, status=TickStatus.FAILURE, error=message)
        if run_config is None:
            message = "run_config_fn returned None"
            return storage.update_tick(tick.key, status=TickStatus.SKIPPED, error=message)
        target = pipeline_target(definition.pipeline)
        if target is None:
            message = (
                f"pipeline '{definition.pipeline.name}' is not defined at the top level of a "
                "file or module, so a run cannot load it"
            )
            return storage.update_tick(tick.key, status=TickStatus.FAILURE, error=message)
        try:
            run, _ = request_run(
                definition.pipeline,
                run_config,
                mode=definition.mode,
                solid_selection=definition.solid_selection,
                executor=None,
                instance=instance,
                tags={**definition.tags, SCHEDULE_TAG: definition.name, TICK_TAG: tick.key},
                memoize=None,
                target=target,
                origin=None,
                run_id=run_id,
            )
        except (ConfigError, SelectionError, DefinitionError) as error:
            return storage.update_tick(
                tick.key, status=TickStatus.FAILURE, run_id=run_id, error=str(error)
            )
        except DuplicateRecordError:  # another daemon queued it meanwhile
            run = storage.get_run(run_id)
    if run is not None and run.status is RunStatus.FAILURE and run.start_time is None:
        events = instance.events(run_id)  # the request was invalid: its RUN_FAILURE says why
        message = events[-1].message if events else "the run request was invalid"
        return storage.update_tick(
            tick.key, status=TickStatus.FAILURE, run_id=run_id, error=message
        )
    return storage.update_tick(tick.key, status=TickStatus.SUCCESS, run_id=run_id)
