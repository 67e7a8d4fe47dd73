"""The scheduler/executor boundary is serialisable: a StepTask pickled with cloudpickle runs in
a freshly spawned process and produces the outputs and events it produces in this process."""

import concurrent.futures
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from typing import Any

import cloudpickle
import pytest

from solidflow import Config, Materialization, Output, resource, solid
from solidflow.definitions.graph import FromOutput, FromValue
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.step.resources import ResourceManager, ResourceSpec
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import StepResult, StepTask

Outcome = tuple[StepResult, list[EventRecord], list[str], int]


def execute(task: StepTask, specs: Mapping[str, ResourceSpec]) -> Outcome:
    """Run `task` the way an executor does: its own resources, an in-memory event sink."""
    sink = EventSink(task.run_id, None)
    resources = ResourceManager(task.run_id, specs, sink.emit)
    result = run_step(task, lambda handle: handle, resources, sink.emit)
    teardown_failures = resources.teardown()
    return result, sink.events, teardown_failures, os.getpid()


def execute_pickled(blob: bytes) -> bytes:
    """The child side: everything crosses the boundary as cloudpickle bytes, both ways."""
    task, specs = cloudpickle.loads(blob)
    return cloudpickle.dumps(execute(task, specs))


@pytest.fixture(scope="module")
def spawned() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        yield pool


def in_child(
    pool: concurrent.futures.ProcessPoolExecutor, task: StepTask, specs: Mapping[str, ResourceSpec]
) -> Outcome:
    blob = cloudpickle.dumps((task, specs))
    return cloudpickle.loads(pool.submit(execute_pickled, blob).result(timeout=60))


def scale_task() -> tuple[StepTask, dict[str, ResourceSpec]]:
    """A step with config, a resource with config, an upstream input and a fixed input.

    Everything is defined locally, so cloudpickle must carry it by value.
    """

    class Scale(Config):
        factor: int

    class Base(Config):
        base: int

    @resource(config=Base)
    def offset(init_context):
        init_context.log.info("offset ready")
        yield init_context.config.base

    @solid(required_resource_keys={"offset"}, outs={"scaled": list[int], "total": int})
    def scale(context, config: Scale, rows: list[int], extra: int) -> Iterator[Any]:
        context.log.info(f"scaling {len(rows)} rows in {context.solid_name}")
        scaled = [row * config.factor + context.resources.offset for row in rows]
        yield Materialization("scaled_rows", metadata={"rows": len(scaled)})
        yield Output(scaled, "scaled")
        yield Output(sum(scaled) + extra, "total")

    task = StepTask(
        run_id="run-1",
        pipeline_name="boundary",
        step_key="outer.scale",
        solid=scale,
        config=Scale(factor=3),
        inputs={"rows": FromOutput("load", "result"), "extra": FromValue(5)},
        handles={("load", "result"): [1, 2, 3]},
    )
    return task, {"offset": ResourceSpec(definition=offset, config=Base(base=100))}


def comparable(events: list[EventRecord]) -> list[tuple[Any, ...]]:
    """Events without what legitimately differs between processes: pids, durations, and
    tracebacks (cloudpickle renames the file of code it carries by value to <dynamic-code>)."""
    varying = {"pid", "duration_ms", "traceback"}
    return [
        (e.seq, e.type, e.step, {k: v for k, v in e.payload.items() if k not in varying})
        for e in events
    ]


def test_step_task_runs_in_a_spawned_process_like_in_process(
    spawned: concurrent.futures.ProcessPoolExecutor,
) -> None:
    task, specs = scale_task()
    here, here_events, here_teardown, _ = execute(task, specs)
    there, there_events, there_teardown, child_pid = in_child(spawned, task, specs)

    assert child_pid != os.getpid()
    assert there.success and here.success
    assert dict(there.outputs) == dict(here.outputs) == {"scaled": [103, 106, 109], "total": 323}
    assert there_teardown == here_teardown == []
    assert [e.type for e in there_events] == [
        EventType.LOG,  # logged by the resource while it initialises, before the step starts
        EventType.RESOURCE_INIT,
        EventType.STEP_START,
        EventType.STEP_INPUT,
        EventType.STEP_INPUT,
        EventType.LOG,  # from the solid
        EventType.MATERIALIZATION,
        EventType.STEP_OUTPUT,
        EventType.STEP_OUTPUT,
        EventType.STEP_SUCCESS,
        EventType.RESOURCE_TEARDOWN,
    ]
    assert comparable(there_events) == comparable(here_events)
    assert {e.run_id for e in there_events} == {"run-1"}
    [start] = [e for e in there_events if e.type is EventType.STEP_START]
    assert start.payload["pid"] == child_pid
    log = [e.payload["message"] for e in there_events if e.type is EventType.LOG]
    assert log == ["offset ready", "scaling 3 rows in outer.scale"]


def test_failed_step_result_crosses_back_with_its_exception(
    spawned: concurrent.futures.ProcessPoolExecutor,
) -> None:
    # defined next to a live process pool: pydantic must not carry it into the pickle
    class Limit(Config):
        maximum: int

    @solid
    def check(config: Limit, rows: list[int]) -> int:
        if len(rows) > config.maximum:
            raise OverflowError(f"{len(rows)} rows > {config.maximum}")
        return len(rows)

    task = StepTask(
        run_id="run-2",
        pipeline_name="boundary",
        step_key="check",
        solid=check,
        config=Limit(maximum=2),
        inputs={"rows": FromOutput("load", "result")},
        handles={("load", "result"): [1, 2, 3]},
    )
    here, here_events, _, _ = execute(task, {})
    there, there_events, _, _ = in_child(spawned, task, {})

    assert not there.success
    assert there.message == here.message == "solid 'check' raised OverflowError: 3 rows > 2"
    assert isinstance(there.exception, OverflowError)
    assert there.error.error_class == "OverflowError"
    assert comparable(there_events) == comparable(here_events)
    here_traceback = here_events[-1].payload["traceback"]
    there_traceback = there_events[-1].payload["traceback"]
    assert 'raise OverflowError(f"{len(rows)} rows > {config.maximum}")' in here_traceback
    assert ", in check\n" in there_traceback
    assert there_traceback.endswith("OverflowError: 3 rows > 2\n")
