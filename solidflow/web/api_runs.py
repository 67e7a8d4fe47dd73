"""API: runs (list, launch, re-execute, cancel, delete), their events and stored outputs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from solidflow.engine import EventType, RunRecord, RunStatus, find_run, list_stored_outputs
from solidflow.errors import RunNotFoundError, RunRequestError
from solidflow.web.api_models import (
    Deleted,
    DeleteRequest,
    ErrorResponse,
    EventPage,
    LaunchRequest,
    ReexecuteRequest,
    RunInfo,
    RunPage,
    StoredOutputInfo,
    StoreListing,
)
from solidflow.web.context import WebContext, web_context
from solidflow.web.errors import ApiError
from solidflow.web.serialize import event_dict, run_info

Context = Annotated[WebContext, Depends(web_context)]
router = APIRouter(
    prefix="/api", responses={400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}}
)

_PAGE = 5000
_WATCH_SECONDS = 1.0
"""How long a stream's watch waits for events before the stream looks whether its client is
still there."""
_RUN_ENDS = frozenset({EventType.RUN_SUCCESS, EventType.RUN_FAILURE, EventType.RUN_CANCELED})


class CompactJSON(JSONResponse):
    """JSON without spaces; values JSON cannot encode (bytes) as text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str).encode()


def _run(web: WebContext, run_id: str) -> RunRecord:
    """The run with this id, a unique prefix of it, or "latest"."""
    try:
        return find_run(web.instance, run_id)
    except RunNotFoundError as error:
        raise ApiError("not_found", str(error)) from None


def _matches(run: RunRecord, pipeline: str | None, tags: list[str]) -> bool:
    if pipeline is not None and run.pipeline_name != pipeline:
        return False
    for tag in tags:
        key, _, value = tag.partition("=")
        if run.tags.get(key) != value:
            return False
    return True


@router.get("/runs", response_model=RunPage)
def list_runs(
    web: Context,
    status: RunStatus | None = None,
    pipeline: str | None = None,
    tag: Annotated[list[str], Query(description="key=value; several must all match")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> RunPage:
    """Runs, newest first, filtered by status, pipeline and tags, a page at a time."""
    runs = [run for run in web.instance.runs(status=status) if _matches(run, pipeline, tag)]
    if cursor is not None:
        ids = [run.run_id for run in runs]
        if cursor not in ids:
            raise ApiError("not_found", f"cursor '{cursor}' names no run of this listing")
        runs = runs[ids.index(cursor) + 1 :]
    page = runs[:limit]
    more = len(runs) > limit
    return RunPage(
        runs=[run_info(run) for run in page], next_cursor=page[-1].run_id if more else None
    )


@router.post("/runs", response_model=RunInfo, status_code=201)
def launch_run(request: LaunchRequest, web: Context) -> RunInfo:
    """Record the run (QUEUED; the config is validated first) and start it in a process of
    its own."""
    web.pipeline(request.pipeline)
    return run_info(web.launch("create_run", **request.model_dump()))


@router.get("/runs/{run_id}", response_model=RunInfo)
def get_run(run_id: str, web: Context) -> RunInfo:
    return run_info(_run(web, run_id))


@router.post("/runs/{run_id}/reexecute", response_model=RunInfo, status_code=201)
def reexecute(run_id: str, request: ReexecuteRequest, web: Context) -> RunInfo:
    """Run the selected steps again (all, or those that failed with from_failure)."""
    parent = _run(web, run_id)
    if request.selection and request.from_failure:
        raise ApiError("bad_request", "give either a selection or from_failure, not both")
    return run_info(
        web.launch("create_reexecution", parent_run_id=parent.run_id, **request.model_dump())
    )


@router.post("/runs/{run_id}/cancel", response_model=RunInfo)
def cancel(run_id: str, web: Context) -> RunInfo:
    """Ask for the run to stop: a queued run is canceled at once, a running one becomes
    CANCELING until its driver has stopped it."""
    run = _run(web, run_id)
    try:
        return run_info(web.instance.cancel_run(run.run_id))
    except RunRequestError as error:
        raise ApiError("conflict", str(error)) from None


def _delete(web: WebContext, run_ids: list[str]) -> Deleted:
    runs = [_run(web, run_id) for run_id in run_ids]
    running = [run.run_id for run in runs if not run.status.ended]
    if running:
        raise ApiError("conflict", f"cancel these runs before deleting them: {', '.join(running)}")
    return Deleted(deleted=[run.run_id for run in runs if web.instance.delete_run(run.run_id)])


@router.delete("/runs/{run_id}", response_model=Deleted)
def delete_run(run_id: str, web: Context) -> Deleted:
    """Delete a run's record and events (its stored outputs stay)."""
    return _delete(web, [run_id])


@router.post("/runs/delete", response_model=Deleted)
def delete_runs(request: DeleteRequest, web: Context) -> Deleted:
    """Delete several runs at once; nothing is deleted if one is unknown or running."""
    return _delete(web, request.run_ids)


@router.get("/runs/{run_id}/events", response_model=EventPage)
def events(
    run_id: str,
    web: Context,
    after: int = -1,
    limit: Annotated[int, Query(ge=1, le=_PAGE)] = _PAGE,
) -> Any:
    """The run's events with seq > `after`, in order, at most `limit` of them."""
    run = _run(web, run_id)
    batch = web.instance.storage.get_events(run.run_id, after, limit)
    ended = run.status.ended and len(batch) < limit
    page = {
        "events": [event_dict(event) for event in batch],
        "cursor": batch[-1].seq if batch else after,
        "run_ended": ended,
    }
    return CompactJSON(page)


def _sse(kind: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


async def _stream(web: WebContext, run_id: str, after: int, request: Request) -> AsyncIterator[str]:
    """The run's events from `after` as the instance's watch finds them stored (woken by the
    storage's notifications where it sends them, e.g. PostgreSQL's), until the run ends or
    the client goes away."""
    instance = web.instance
    yield "retry: 1000\n\n"
    ended = False
    while not ended and not await request.is_disconnected():
        run = await asyncio.to_thread(instance.get_run, run_id)
        if run is None:  # deleted meanwhile
            break
        # The watch of an ended run reads its last events and returns; of a live one, it
        # returns after _WATCH_SECONDS at the latest.
        ended = run.status.ended
        pages = instance.watch_pages(run_id, after, timeout=None if ended else _WATCH_SECONDS)
        with contextlib.suppress(KeyError):  # deleted meanwhile
            while page := await asyncio.to_thread(next, pages, None):
                after = page[-1].seq
                payload = json.dumps(
                    [event_dict(e) for e in page], separators=(",", ":"), default=str
                )
                yield _sse("events", payload, after)
                ended = ended or page[-1].type in _RUN_ENDS
    yield _sse("end", "{}")


@router.get(
    "/runs/{run_id}/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events(
    run_id: str,
    request: Request,
    web: Context,
    after: int = -1,
    last_event_id: Annotated[int | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: `events` messages (a JSON list of events, id = the last seq) until
    the run ends, then `end`. A reconnecting client resumes after Last-Event-ID."""
    run = _run(web, run_id)
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        _stream(web, run.run_id, start, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/store", response_model=StoreListing)
def stored_outputs(web: Context, run_id: str | None = None) -> StoreListing:
    """Stored outputs (newest first), with their keys and the runs that stored them."""
    if run_id is not None:
        run_id = _run(web, run_id).run_id
    listing = list_stored_outputs(web.instance, run_id=run_id)
    infos = [
        StoredOutputInfo(
            key=o.key,
            step=o.step,
            output=o.output,
            serializer=o.serializer,
            python_type=o.python_type,
            rows=o.rows,
            bytes=o.bytes,
            run_id=o.run_id,
            created=o.created,
        )
        for o in listing.outputs
    ]
    return StoreListing(outputs=infos, total_bytes=listing.total_bytes)
