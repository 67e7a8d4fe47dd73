"""The ASGI application: the HTTP API under /api and the UI's built assets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Set
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from solidflow import Instance
from solidflow.web import api_pipelines, api_queue, api_runs, api_schedules
from solidflow.web.code_location import CodeLocation
from solidflow.web.context import WebContext
from solidflow.web.errors import install_error_handlers
from solidflow.web.guard import RequestGuard
from solidflow.web.timing import ServerTiming
from solidflow.web.workspace import Workspace

STATIC = Path(str(resources.files("solidflow.web") / "static"))

_NOT_BUILT = """<!doctype html><title>solidflow</title>
<p>The UI's assets are not built. Run <code>make ui-assets</code> (it needs npm) in the
solidflow checkout; the API is served at <a href="/api/openapi.json">/api/openapi.json</a>.</p>"""


def create_app(
    workspace: Workspace,
    instance: Instance,
    *,
    read_only: bool = False,
    allowed_hosts: Set[str] = frozenset(),
) -> FastAPI:
    """The UI and API for the pipelines of `workspace` and the runs of `instance`."""
    code = CodeLocation(list(workspace.targets), workspace.root, instance.home)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        code.close()

    app = FastAPI(
        lifespan=lifespan,
        title="solidflow",
        summary="Pipelines, runs, their events and stored outputs, schedules and sweeps.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs would load their scripts from a CDN
        redoc_url=None,
    )
    app.state.web = WebContext(
        instance=instance,
        code=code,
        read_only=read_only,
    )
    install_error_handlers(app)
    app.include_router(api_pipelines.router)
    app.include_router(api_runs.router)
    app.include_router(api_schedules.router)
    app.include_router(api_queue.router)
    app.add_middleware(
        RequestGuard,
        allowed_hosts=set(allowed_hosts),
        read_only=read_only,
        queries=("/validate", "/memo"),
    )
    app.add_middleware(ServerTiming)
    if (STATIC / "index.html").is_file():
        app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")
        index = (STATIC / "index.html").read_text()
    else:
        index = _NOT_BUILT

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def home() -> str:
        return index

    return app
