"""A third party's step launcher and per-solid options, registered from this module: steps of
the solids it launches run in another process, through engine APIs only."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.definitions.solid import SolidDefinition
from solidflow.definitions.solid_options import TAG_CHECKS, check_options, register_tag_options
from solidflow.engine.events.records import EventType
from solidflow.engine.step.context import Emit
from solidflow.engine.step.error_info import ERROR_FORMATTERS, error_info, register_error_formatter
from solidflow.engine.step.launchers import STEP_LAUNCHERS, register_step_launcher
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step_here
from solidflow.engine.step.task import StepResult, StepTask
from solidflow.engine.store import IntermediateStore
from solidflow.errors import DefinitionError


def run_in_child(blob: bytes) -> bytes:
    """The other side: run the step here, collecting its events to send them back."""
    task, inputs, specs, store_root = cloudpickle.loads(blob)
    events: list[tuple[EventType, str | None, dict[str, Any]]] = []

    def emit(event_type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        events.append((event_type, step, {**payload, "launched": "child"}))

    resources = ResourceManager(task.run_id, specs, emit)
    store = IntermediateStore(store_root) if store_root is not None else None
    try:
        result = run_step_here(task, inputs, resources, emit, store)
    finally:
        resources.teardown()
        if store is not None:
            store.close()
    return cloudpickle.dumps((result, events))


class ChildProcessLauncher:
    """Launches the steps of solids tagged {"elsewhere": {...}} in a spawned process."""

    def __init__(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        self.pool = pool

    def launches(self, solid: SolidDefinition) -> bool:
        return "elsewhere" in solid.tags

    def launch(
        self,
        task: StepTask,
        input_values: Mapping[str, Any],
        resources: ResourceManager,
        emit: Emit,
        store: IntermediateStore | None,
    ) -> StepResult:
        specs = resources.specs_for(task.solid.required_resource_keys)
        root = store.root if store is not None else None
        blob = cloudpickle.dumps(
            (dataclasses.replace(task, handles={}), dict(input_values), specs, root)
        )
        timeout = task.solid.tags["elsewhere"].get("timeout", 60)
        result, events = cloudpickle.loads(self.pool.submit(run_in_child, blob).result(timeout))
        for event_type, step, payload in events:
            emit(event_type, step, payload)
        return result


ELSEWHERE_OPTIONS = {
    "timeout": (lambda value: isinstance(value, (int, float)) and value > 0, "seconds > 0"),
}


def check_elsewhere(solid_name: str, options: Any) -> None:
    check_options(solid_name, "elsewhere", options, ELSEWHERE_OPTIONS)


@pytest.fixture
def elsewhere() -> Iterator[None]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        register_step_launcher("elsewhere", ChildProcessLauncher(pool))
        register_tag_options("elsewhere", check_elsewhere)
        try:
            yield
        finally:
            STEP_LAUNCHERS.unregister("elsewhere")
            TAG_CHECKS.unregister("elsewhere")


def test_steps_of_the_solids_a_launcher_launches_run_through_it(
    elsewhere: None, tmp_path: Path
) -> None:
    @solid(tags={"elsewhere": {"timeout": 60}})
    def far() -> int:
        return os.getpid()

    @solid
    def near(far_pid: int) -> list[int]:
        return [far_pid, os.getpid()]

    @pipeline
    def split():
        near(far())

    instance = Instance(tmp_path / "home")
    result = execute_pipeline(split, instance=instance, memoize=True)
    assert result.success
    far_pid, near_pid = result.output_for("near")
    assert near_pid == os.getpid() != far_pid
    starts = {e.step: e.payload for e in result.events if e.type is EventType.STEP_START}
    assert (starts["far"]["pid"], starts["far"]["launched"]) == (far_pid, "child")
    assert "launched" not in starts["near"]

    again = execute_pipeline(split, instance=instance, memoize=True)
    assert [e.step for e in again.events if e.type is EventType.STEP_START] == []
    assert again.output_for("far") == far_pid  # stored by the child process


def test_the_options_of_a_registered_tag_are_checked_when_a_solid_is_defined(
    elsewhere: None,
) -> None:
    with pytest.raises(DefinitionError) as raised:

        @solid(tags={"elsewhere": {"timeout": 1, "retries": 2}})
        def typo() -> int:
            return 1

    assert str(raised.value) == (
        "solid 'typo': unknown elsewhere option 'retries'; valid options: timeout"
    )
    with pytest.raises(DefinitionError, match="option 'timeout' must be seconds > 0, got -1"):

        @solid(tags={"elsewhere": {"timeout": -1}})
        def negative() -> int:
            return 1


def test_tags_without_a_registered_check_are_free_form() -> None:
    @solid(tags={"owner": "team-a", "elsewhere": "anything"})
    def tagged() -> int:
        return 1

    assert tagged.tags["owner"] == "team-a"


class StackDumpError(Exception):
    """An error of a library that puts a stack dump in its message."""


StackDumpError.__module__ = "dumping_library.errors"


def test_errors_of_a_package_with_a_registered_formatter_get_its_message() -> None:
    register_error_formatter("dumping_library", lambda exc: str(exc).splitlines()[0])
    dump = "disk full\n\tat a.b.C(C.java:1)\n\tat d.e.F(F.java:2)"
    try:
        try:
            raise StackDumpError(dump)
        except StackDumpError as exc:
            info = error_info(exc)
    finally:
        ERROR_FORMATTERS.unregister("dumping_library")
    assert info.message == "disk full"
    assert info.traceback.endswith("StackDumpError: disk full\n")
    assert "C.java" not in info.traceback
