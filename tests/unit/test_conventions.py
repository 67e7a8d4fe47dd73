"""Dagster conventions: context parameters, mode choice, re-executing pipelines defined in a
function, type checks outside a pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from solidflow import (
    DataType,
    Instance,
    Mode,
    SolidExecutionContext,
    TypeCheck,
    check_type,
    execute_pipeline,
    execute_solid,
    pipeline,
    reexecute_pipeline,
    solid,
)
from solidflow.engine.events.records import EventType
from solidflow.errors import ConfigError, ReexecutionError


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path) as opened:
        yield opened


@solid
def underscore(_, value: int) -> int:
    return value + 1


@solid
def private_context(_context, value: int) -> str:
    return _context.solid_name


@solid
def annotated(ctx: SolidExecutionContext, value: int) -> str:
    return ctx.run_id


@pytest.mark.parametrize("definition", [underscore, private_context, annotated])
def test_dagster_context_parameters_are_the_context_not_inputs(definition: Any) -> None:
    assert definition.takes_context
    assert [input_def.name for input_def in definition.inputs] == ["value"]


def test_a_context_named_underscore_reaches_resources(instance: Instance) -> None:
    @solid(required_resource_keys={"offset"})
    def offset(_context, value: int) -> int:
        return value + _context.resources.offset

    result = execute_solid(offset, inputs={"value": 1}, resources={"offset": 10})
    assert result.output_value() == 11
    assert execute_solid(private_context, inputs={"value": 1}).output_value() == "private_context"
    assert execute_solid(annotated, inputs={"value": 1}).output_value().startswith("execute_solid")


@solid(required_resource_keys={"source"})
def read(context) -> str:
    return context.resources.source


def test_several_modes_without_a_default_need_mode(instance: Instance) -> None:
    @pipeline(modes=[Mode("local", {"source": "file"}), Mode("prod", {"source": "s3"})])
    def reading() -> None:
        read()

    with pytest.raises(ConfigError) as info:
        execute_pipeline(reading, instance=instance)
    assert info.value.errors == [
        (
            "mode",
            "pipeline 'reading' has several modes and none is named 'default'; choose one with "
            "mode= (--mode): local, prod",
        )
    ]
    assert instance.get_run(info.value.run_id).status.value == "FAILURE"
    assert execute_pipeline(reading, mode="prod", instance=instance).output_for("read") == "s3"


def test_the_mode_named_default_is_used_without_mode(instance: Instance) -> None:
    @pipeline(modes=[Mode("prod", {"source": "s3"}), Mode("default", {"source": "file"})])
    def reading() -> None:
        read()

    result = execute_pipeline(reading, instance=instance)
    assert result.output_for("read") == "file"
    assert instance.get_run(result.run_id).mode == "default"


def test_a_pipeline_defined_in_a_function_is_reexecuted_from_its_object(
    instance: Instance,
) -> None:
    calls: list[str] = []

    @solid
    def load() -> int:
        calls.append("load")
        return 2

    @solid
    def square(x: int) -> int:
        calls.append("square")
        return x * x

    @pipeline
    def local() -> None:
        square(load())

    first = execute_pipeline(local, instance=instance)
    with pytest.raises(ReexecutionError, match="pass the pipeline: reexecute_pipeline\\(pipeline"):
        reexecute_pipeline(first.run_id, instance=instance)
    calls.clear()
    child = reexecute_pipeline(
        local, parent_run_id=first.run_id, solid_selection="square", instance=instance
    )
    assert child.success and child.output_for("square") == 4
    assert calls == ["square"]  # load's output came from the parent run
    assert instance.get_run(child.run_id).parent_run_id == first.run_id
    started = [e.step for e in child.events if e.type is EventType.STEP_START]
    assert started == ["square"]

    @pipeline
    def other() -> None:
        load()

    with pytest.raises(ReexecutionError, match="is a run of pipeline 'local', not of 'other'"):
        reexecute_pipeline(other, parent_run_id=first.run_id, instance=instance)


def _even(value: Any) -> TypeCheck:
    return TypeCheck(success=value % 2 == 0, description=f"{value} is odd" if value % 2 else None)


Even = DataType("Even", _even)


def test_check_type_runs_a_type_check_outside_a_pipeline() -> None:
    assert check_type(Even, 4).success
    odd = check_type(Even, 3)
    assert not odd.success and odd.description == "3 is odd"
    assert check_type(Annotated[int, Even], 4).success
    assert (
        check_type(Annotated[int, Even], "4").description == "value '4' of type str is not an int"
    )
    assert not check_type(list[int], [1, "2"]).success
    assert check_type(int, 1).success
