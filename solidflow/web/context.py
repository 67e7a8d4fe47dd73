"""What every request handler of the server works with."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from solidflow import Instance, RunRecord, launch_run
from solidflow.errors import SolidflowError
from solidflow.web.code_location import CodeLocation, CodeServerError
from solidflow.web.errors import ApiError


@dataclass(frozen=True, slots=True, kw_only=True)
class WebContext:
    """The instance, the workspace's code server and the server's mode."""

    instance: Instance
    code: CodeLocation
    read_only: bool

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        """A code server request; its refusals become ApiErrors."""
        try:
            return self.code.request(op, **fields)
        except CodeServerError as error:
            raise ApiError(error.kind, str(error), error.errors) from None

    def launch(self, op: str, **fields: Any) -> RunRecord:
        """Have the code server record a run (`op`: create_run or create_reexecution), then
        start it in a driver process of its own; the run's record."""
        run_id = self.ask(op, **fields)["run_id"]
        try:
            launched = launch_run(run_id, instance=self.instance, launcher="subprocess")
        except SolidflowError as error:
            raise ApiError("launch", str(error)) from None
        driver = getattr(launched, "process", None)
        if driver is not None:
            threading.Thread(target=driver.wait, daemon=True).start()  # reaps it when it ends
        run = self.instance.get_run(run_id)
        assert run is not None
        return run

    def pipelines(self) -> dict[str, dict[str, Any]]:
        """The description of every pipeline the workspace loaded, by name."""
        try:
            locations = self.code.locations()
        except CodeServerError as error:
            raise ApiError(error.kind, str(error)) from None
        return {p["name"]: p for location in locations for p in location["pipelines"]}

    def pipeline(self, name: str) -> dict[str, Any]:
        found = self.pipelines().get(name)
        if found is None:
            raise ApiError("not_found", f"no pipeline named '{name}' in the workspace")
        return found


def web_context(request: Request) -> WebContext:
    """The WebContext of the app that serves `request` (a FastAPI dependency)."""
    web: WebContext = request.app.state.web
    return web
