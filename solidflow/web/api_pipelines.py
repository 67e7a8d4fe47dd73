"""API: the workspace's pipelines, their config validation, selections and memo status."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends

from solidflow.engine import RunRecord
from solidflow.web.api_models import (
    ErrorResponse,
    LocationInfo,
    MemoReport,
    PipelineInfo,
    PipelineList,
    PipelineSummary,
    RunConfigRequest,
    SelectionResult,
    Validation,
)
from solidflow.web.code_location import CodeServerError
from solidflow.web.context import WebContext, web_context
from solidflow.web.errors import ApiError
from solidflow.web.serialize import run_info

Context = Annotated[WebContext, Depends(web_context)]
router = APIRouter(
    prefix="/api", responses={400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}}
)


def _pipeline_list(web: WebContext) -> PipelineList:
    try:
        locations = web.code.locations()
    except CodeServerError as error:
        locations = [
            {"target": target, "error": str(error), "pipelines": []} for target in web.code.targets
        ]
    last_runs: dict[str, RunRecord] = {}
    for run in web.instance.runs():  # newest first
        last_runs.setdefault(run.pipeline_name, run)
    summaries = [
        PipelineSummary(
            name=pipeline["name"],
            target=pipeline["target"],
            description=pipeline["description"],
            solid_count=len(pipeline["solids"]),
            last_run=run_info(last_runs[pipeline["name"]])
            if pipeline["name"] in last_runs
            else None,
        )
        for location in locations
        for pipeline in location["pipelines"]
    ]
    return PipelineList(
        pipelines=summaries,
        locations=[
            LocationInfo(
                target=location["target"],
                error=location["error"],
                pipelines=[p["name"] for p in location["pipelines"]],
            )
            for location in locations
        ],
        read_only=web.read_only,
    )


@router.get("/pipelines", response_model=PipelineList)
def list_pipelines(web: Context) -> PipelineList:
    """Every pipeline of the workspace with its last run, and each target's load error."""
    return _pipeline_list(web)


@router.post("/workspace/reload", response_model=PipelineList)
def reload_workspace(web: Context) -> PipelineList:
    """Import every workspace target again (in a fresh code server)."""
    with contextlib.suppress(CodeServerError):  # shown per target by the listing
        web.code.reload()
    return _pipeline_list(web)


@router.get("/pipelines/{name}", response_model=PipelineInfo)
def get_pipeline(name: str, web: Context) -> PipelineInfo:
    """A pipeline's solids (inputs, outputs, types, config schema, tags), wiring and modes."""
    return PipelineInfo.model_validate(web.pipeline(name))


@router.get("/pipelines/{name}/select", response_model=SelectionResult)
def select(name: str, query: str, web: Context) -> SelectionResult:
    """The solids a selection query (`*a+`, `b++`, `a,b*`) picks."""
    web.pipeline(name)
    return SelectionResult.model_validate(web.ask("select", pipeline=name, selection=query))


@router.post("/pipelines/{name}/validate", response_model=Validation)
def validate(name: str, request: RunConfigRequest, web: Context) -> Validation:
    """Check a run_config (with mode and selection): every error with its path."""
    web.pipeline(name)
    try:
        result = web.ask("validate", pipeline=name, **request.model_dump())
    except ApiError as error:
        if error.kind not in ("config", "selection"):
            raise
        problems = [{"path": path, "message": message} for path, message in error.errors]
        return Validation.model_validate({"valid": False, "errors": problems, "steps": []})
    return Validation(valid=True, errors=[], steps=result["steps"])


@router.post("/pipelines/{name}/memo", response_model=MemoReport)
def memo_status(name: str, request: RunConfigRequest, web: Context) -> MemoReport:
    """For each step: served from the store, or why it would run, and the run it compares with."""
    web.pipeline(name)
    return MemoReport.model_validate(web.ask("memo", pipeline=name, **request.model_dump()))
