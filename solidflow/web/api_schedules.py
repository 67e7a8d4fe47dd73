"""API: the schedules of the workspace, their ticks and previews; starting and stopping them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from solidflow.engine import (
    Instance,
    ScheduleState,
    schedule_ticks,
    start_schedule,
    stop_schedule,
)
from solidflow.web.api_models import (
    ErrorResponse,
    ScheduleInfo,
    ScheduleList,
    SchedulePreview,
    TickInfo,
    TickPage,
)
from solidflow.web.context import WebContext, web_context

Context = Annotated[WebContext, Depends(web_context)]
router = APIRouter(
    prefix="/api/schedules",
    tags=["schedules"],
    responses={400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)

Upcoming = Annotated[int, Query(ge=1, le=100, description="how many next tick times to give")]


@router.get("", response_model=ScheduleList)
def list_schedules(web: Context, upcoming: Upcoming = 3) -> Any:
    """The schedules defined in the workspace's files and modules and in the instance's
    `workspace` setting, by name, and the locations whose schedules could not be loaded."""
    return web.ask("schedules", upcoming=upcoming)


def _schedule(web: WebContext, name: str, upcoming: int = 3) -> dict[str, Any]:
    """The schedule `name` (a 404 when the workspace has none by that name)."""
    return web.ask("schedule", name=name, upcoming=upcoming)


@router.get("/{name}", response_model=ScheduleInfo)
def get_schedule(name: str, web: Context, upcoming: Upcoming = 3) -> Any:
    return _schedule(web, name, upcoming)


@router.get("/{name}/ticks", response_model=TickPage)
def ticks(
    name: str,
    web: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[
        float | None, Query(description="next_cursor of the previous page: older ticks")
    ] = None,
) -> TickPage:
    """The schedule's recorded ticks, latest first, a page at a time."""
    _schedule(web, name)
    found = schedule_ticks(web.instance, name, limit + 1, before)
    page = [TickInfo(**dataclasses.asdict(tick)) for tick in found[:limit]]
    return TickPage(ticks=page, next_cursor=page[-1].tick_time if len(found) > limit else None)


@router.get("/{name}/preview", response_model=SchedulePreview)
def preview(name: str, web: Context, count: Annotated[int, Query(ge=1, le=100)] = 5) -> Any:
    """The schedule's next `count` ticks and the run_config each would get (nothing is
    recorded or run)."""
    return web.ask("preview_schedule", name=name, count=count)


def _change(
    web: WebContext, name: str, change: Callable[[Instance, str, float], ScheduleState]
) -> Any:
    _schedule(web, name)
    change(web.instance, name, time.time())
    return _schedule(web, name)


@router.post("/{name}/start", response_model=ScheduleInfo)
def start(name: str, web: Context) -> Any:
    """Start the schedule: the daemon queues a run at each of its ticks from now on."""
    return _change(web, name, start_schedule)


@router.post("/{name}/stop", response_model=ScheduleInfo)
def stop(name: str, web: Context) -> Any:
    """Stop the schedule: none of its ticks are queued until it is started again."""
    return _change(web, name, stop_schedule)
