"""The code server: a subprocess that imports the workspace's pipelines and answers questions
about them (describe, validate config, memo status) and records the runs the UI requests (as
QUEUED, for a launcher to start), so that user code never runs, fails or hangs in the web
server's process.

It speaks JSON lines: one request per line on stdin, one answer per line on the original
stdout (user code that prints writes to stderr instead). Run as
`python -m solidflow.web.code_server TARGET...`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from solidflow import Instance, PipelineDefinition, create_reexecution, create_run
from solidflow.engine import PipelinePlan, load_pipeline, plan_pipeline
from solidflow.errors import ConfigError, SelectionError, SolidflowError
from solidflow.web.code_errors import RequestError
from solidflow.web.code_schedules import (
    ScheduleCatalog,
    list_answer,
    preview_answer,
    schedule_answer,
)
from solidflow.web.pipeline_description import as_json, describe_pipeline


class Workspace:
    """The workspace's targets, each loaded once: a pipeline, or the error that loading it
    raised."""

    def __init__(self, targets: list[str]) -> None:
        self.locations: list[dict[str, Any]] = []
        self.pipelines: dict[str, PipelineDefinition] = {}
        self.targets: dict[str, str] = {}  # where each pipeline loads from, from anywhere
        self.schedules = ScheduleCatalog(targets)
        for target in targets:
            self.locations.append(self._load(target))

    def _load(self, target: str) -> dict[str, Any]:
        try:
            pipeline, loadable = load_pipeline(target)
            if pipeline.name in self.pipelines:
                raise SolidflowError(
                    f"another target already defines a pipeline named '{pipeline.name}'"
                )
            description = describe_pipeline(pipeline, loadable)
        except Exception as error:  # the user's code: any error becomes the target's card
            message = (
                str(error)
                if isinstance(error, SolidflowError)
                else f"{type(error).__name__}: {error}"
            )
            return {"target": target, "error": message, "pipelines": []}
        self.pipelines[pipeline.name] = pipeline
        self.targets[pipeline.name] = loadable
        return {"target": target, "error": None, "pipelines": [description]}

    def pipeline(self, name: str) -> PipelineDefinition:
        try:
            return self.pipelines[name]
        except KeyError:
            raise RequestError(
                "not_found", f"no pipeline named '{name}' in the workspace"
            ) from None


def _plan(workspace: Workspace, request: dict[str, Any], memoize: bool = False) -> PipelinePlan:
    """The engine's plan of the run `request` describes; its config errors are refusals."""
    pipeline = workspace.pipeline(request["pipeline"])
    try:
        plan = plan_pipeline(
            pipeline,
            request.get("run_config") or {},
            request.get("mode"),
            request.get("selection") or None,
            memoize=memoize,
            instance=Instance() if memoize else None,
        )
    except ConfigError as error:  # no such mode
        raise RequestError("config", "invalid run config", list(error.errors)) from None
    except SelectionError as error:
        raise RequestError("selection", str(error), [("selection", str(error))]) from None
    if plan.config_errors:
        raise RequestError("config", "invalid run config", plan.config_errors)
    return plan


def _validate(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [step.key for step in _plan(workspace, request).steps]}


def _select(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    pipeline = workspace.pipeline(request["pipeline"])
    try:
        plan = plan_pipeline(pipeline, solid_selection=request["selection"])
    except SelectionError as error:
        raise RequestError("selection", str(error), [("selection", str(error))]) from None
    return {"steps": [step.key for step in plan.steps]}


def _memo(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    plan = _plan(workspace, request, memoize=True)
    return {
        "steps": [as_json(step.memo) for step in plan.steps if step.memo is not None],
        "warnings": plan.warnings,
    }


def _requested(create: Callable[[], Any]) -> dict[str, Any]:
    """Record a QUEUED run with `create`; its id, or why it cannot run."""
    try:
        run = create()
    except ConfigError as error:
        raise RequestError("config", "invalid run config", list(error.errors)) from None
    except SelectionError as error:
        raise RequestError("selection", str(error), [("selection", str(error))]) from None
    except SolidflowError as error:
        raise RequestError("launch", str(error)) from None
    return {"run_id": run.run_id}


def _create_run(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    name = request["pipeline"]
    pipeline = workspace.pipeline(name)
    return _requested(
        lambda: create_run(
            pipeline,
            request.get("run_config") or {},
            mode=request.get("mode"),
            solid_selection=request.get("selection") or None,
            executor=request.get("executor"),
            instance=Instance(),
            tags=request.get("tags") or {},
            memoize=request.get("memoize"),
            target=workspace.targets[name],
        )
    )


def _create_reexecution(_workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    """A re-execution loads its pipeline again from the target its parent recorded."""
    return _requested(
        lambda: create_reexecution(
            request["parent_run_id"],
            solid_selection=request.get("selection") or None,
            from_failure=bool(request.get("from_failure")),
            instance=Instance(),
            tags=request.get("tags") or {},
        )
    )


Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "describe": lambda workspace, _request: {"locations": workspace.locations},
    "validate": _validate,
    "select": _select,
    "memo": _memo,
    "create_run": _create_run,
    "create_reexecution": _create_reexecution,
    "schedules": lambda workspace, request: list_answer(workspace.schedules, request),
    "schedule": lambda workspace, request: schedule_answer(workspace.schedules, request),
    "preview_schedule": lambda workspace, request: preview_answer(workspace.schedules, request),
}


def answer(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request: {"result": ...} or {"error": {kind, message, errors}}."""
    handler = HANDLERS.get(request.get("op", ""))
    try:
        if handler is None:
            raise RequestError("bad_request", f"unknown operation {request.get('op')!r}")
        return {"result": handler(workspace, request)}
    except RequestError as error:
        return {"error": {"kind": error.kind, "message": str(error), "errors": error.errors}}
    except Exception as error:  # the user's code (a data_version, a resource) failed
        message = (
            str(error) if isinstance(error, SolidflowError) else f"{type(error).__name__}: {error}"
        )
        return {"error": {"kind": "user_code", "message": message, "errors": []}}


def serve(targets: list[str], requests: IO[str], answers: IO[str]) -> None:
    """Load `targets`, then answer each request line until `requests` ends."""
    workspace = Workspace(targets)
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        request = json.loads(line)
        reply = {"id": request.get("id"), **answer(workspace, request)}
        answers.write(json.dumps(reply, default=str) + "\n")
        answers.flush()


def main() -> None:
    # Answers go to a private copy of stdout; anything the user's code prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.argv[1:], sys.stdin, answers)


if __name__ == "__main__":
    main()
