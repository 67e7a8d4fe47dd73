"""API: the run queue and sweeps (the runs queued for the points of a grid of configs)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from solidflow.engine import list_sweeps, queued_runs, sweep_summary
from solidflow.web.api_models import (
    ErrorResponse,
    QueuedRuns,
    SweepInfo,
    SweepList,
    SweepOverviewInfo,
    SweepRowInfo,
)
from solidflow.web.context import WebContext, web_context
from solidflow.web.errors import ApiError
from solidflow.web.serialize import run_info

Context = Annotated[WebContext, Depends(web_context)]
router = APIRouter(prefix="/api", responses={404: {"model": ErrorResponse}})


@router.get("/queue", response_model=QueuedRuns)
def queue(web: Context) -> QueuedRuns:
    """The QUEUED runs, highest priority first, then oldest first."""
    return QueuedRuns(runs=[run_info(run) for run in queued_runs(web.instance)])


@router.get("/sweeps", response_model=SweepList)
def sweeps(web: Context) -> SweepList:
    """The sweeps whose runs the instance keeps, newest first."""
    return SweepList(
        sweeps=[
            SweepOverviewInfo(**dataclasses.asdict(overview), ended=overview.ended)
            for overview in list_sweeps(web.instance)
        ]
    )


@router.get("/sweeps/{sweep_id}", response_model=SweepInfo)
def sweep(
    sweep_id: str,
    web: Context,
    metric: Annotated[
        list[str],
        Query(description='"step.name": a metadata entry or small output of a step, per run'),
    ] = [],  # noqa: B006
) -> SweepInfo:
    """The runs of the sweep with their points, status, duration, metrics, and how many
    steps each computed and was served from the store."""
    summary = sweep_summary(web.instance, sweep_id, metric)
    if not summary.rows:
        raise ApiError("not_found", f"no run belongs to sweep '{sweep_id}'")
    rows = [
        SweepRowInfo(**{**dataclasses.asdict(row), "status": row.status.value})
        for row in summary.rows
    ]
    return SweepInfo(sweep_id=summary.sweep_id, ended=summary.ended, rows=rows)
