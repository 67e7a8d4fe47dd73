"""The code server's answers about schedules. Schedules are defined in the user's code (and
their run_config_fn makes each tick's config), so they are loaded and previewed in the code
server, never in the web server."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from solidflow import Instance, ScheduleDefinition
from solidflow.engine import (
    WorkspaceSchedules,
    collect_schedules,
    find_schedule,
    list_schedules,
    preview_schedule,
    schedule_info,
    target_location,
)
from solidflow.errors import TargetError
from solidflow.web.code_errors import RequestError
from solidflow.web.pipeline_description import as_json


class ScheduleCatalog:
    """The schedules defined in the files and modules of the workspace's targets and in the
    instance's `workspace` setting (where the daemon finds them), loaded on first use."""

    def __init__(self, targets: Sequence[str]) -> None:
        self._locations = [target_location(target) for target in targets]
        self._found: WorkspaceSchedules | None = None

    def found(self) -> WorkspaceSchedules:
        if self._found is None:
            daemon_locations = Instance().config.workspace
            self._found = collect_schedules([*self._locations, *daemon_locations])
        return self._found

    def definition(self, name: str) -> ScheduleDefinition:
        try:
            return find_schedule(self.found().schedules, name)
        except TargetError as error:
            raise RequestError("not_found", str(error)) from None


def _now(request: dict[str, Any]) -> float:
    return float(request.get("now") or time.time())


def list_answer(catalog: ScheduleCatalog, request: dict[str, Any]) -> dict[str, Any]:
    found = catalog.found()
    infos = list_schedules(Instance(), found.schedules, _now(request), request.get("upcoming", 1))
    return {
        "schedules": [as_json(info) for info in infos],
        "problems": [{"location": where, "message": message} for where, message in found.problems],
    }


def schedule_answer(catalog: ScheduleCatalog, request: dict[str, Any]) -> dict[str, Any]:
    definition = catalog.definition(request["name"])
    info = schedule_info(Instance(), definition, _now(request), request.get("upcoming", 1))
    answer: dict[str, Any] = as_json(info)
    return answer


def preview_answer(catalog: ScheduleCatalog, request: dict[str, Any]) -> dict[str, Any]:
    definition = catalog.definition(request["name"])
    previews = preview_schedule(definition, _now(request), request.get("count", 5))
    return {"ticks": [as_json(preview) for preview in previews]}
