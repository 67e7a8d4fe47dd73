"""Odd values and odd failures never break a run or lose its events."""

from __future__ import annotations

import os
from typing import TypedDict

import numpy as np
import pytest

from solidflow import (
    DataType,
    ExpectationResult,
    Instance,
    Materialization,
    Mode,
    Output,
    execute_pipeline,
    execute_solid,
    pipeline,
    resource,
    solid,
)
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.errors import ConfigError, DefinitionError


class Row(TypedDict):
    x: int


@pytest.fixture
def instance(tmp_path):
    return Instance(tmp_path)


def test_events_that_msgpack_cannot_encode_are_stored_in_a_plain_form(instance):
    bad_name = os.fsdecode(b"data_\xff.csv")  # a lone surrogate

    @solid
    def odd(context):
        context.log.info("reading " + bad_name)
        yield ExpectationResult(success=np.bool_(True), label="numpy verdict")
        yield Materialization("table", metadata={"huge": 2**70, "count": np.int64(3)})
        yield Output(1)

    @pipeline
    def odd_values():
        odd()

    result = execute_pipeline(odd_values, instance=instance)
    assert result.success
    stored = instance.events(result.run_id)
    assert [e.type for e in stored] == [e.type for e in result.events]
    [log] = [e for e in stored if e.type is EventType.LOG]
    assert log.message == "reading data_\\udcff.csv"
    [materialization] = [e for e in stored if e.type is EventType.MATERIALIZATION]
    assert materialization.payload["metadata"] == {"huge": repr(2**70), "count": 3}
    assert instance.get_run(result.run_id).status is RunStatus.SUCCESS


def test_sys_exit_and_unprintable_errors_fail_only_their_step(instance):
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    @solid
    def exits() -> int:
        raise SystemExit(3)

    @solid
    def unprintable() -> int:
        raise Unprintable()

    @solid
    def fine() -> int:
        return 1

    @pipeline
    def mixed():
        exits()
        unprintable()
        fine()

    result = execute_pipeline(mixed, instance=instance)
    assert not result.success
    assert result.result_for("fine").success
    assert result.result_for("exits").failure_message == "solid 'exits' raised SystemExit: 3"
    assert "message unavailable" in result.result_for("unprintable").failure_message
    assert instance.get_run(result.run_id).status is RunStatus.FAILURE


def test_every_teardown_runs_even_when_one_raises_a_base_exception(instance):
    torn_down = []

    @resource
    def first(init_context):
        yield "first"
        torn_down.append("first")

    @resource
    def second(init_context):
        yield "second"
        raise SystemExit("teardown exit")

    @solid(required_resource_keys={"a", "b"})
    def uses(context) -> str:
        return context.resources.a + context.resources.b

    @pipeline(modes=[Mode("default", resources={"a": first, "b": second})])
    def both():
        uses()

    result = execute_pipeline(both, instance=instance)
    assert torn_down == ["first"]
    assert not result.success
    teardowns = [e for e in result.events if e.type is EventType.RESOURCE_TEARDOWN]
    assert [(e.payload["resource"], e.payload["success"]) for e in teardowns] == [
        ("b", False),
        ("a", True),
    ]


def test_output_metadata_is_recorded(instance):
    @solid
    def counted():
        yield Output([1, 2], metadata={"rows": 2})

    @pipeline
    def with_metadata():
        counted()

    result = execute_pipeline(with_metadata, instance=instance)
    [output] = [e for e in result.events if e.type is EventType.STEP_OUTPUT]
    assert output.payload["output_metadata"] == {"rows": 2}


def test_a_numpy_bool_from_a_type_check_counts():
    positive = DataType("Positive", lambda value: np.int64(value) > 0)
    assert positive.type_check(3).success
    assert not positive.type_check(-3).success


def test_definition_mistakes_in_decorator_arguments():
    with pytest.raises(DefinitionError, match="async functions are not supported"):

        @solid
        async def fetch() -> int:
            return 1

    with pytest.raises(DefinitionError, match=r"must be a set of keys, such as \{'db'\}"):

        @solid(required_resource_keys="db")
        def query(context) -> int:
            return 1

    with pytest.raises(DefinitionError, match="outs must map output names to types"):

        @solid(outs=["a", "b"])
        def split() -> tuple:
            return 1, 2

    with pytest.raises(DefinitionError, match="Row cannot be checked at run time"):

        @solid
        def typed(row: Row) -> int:
            return row["x"]


def test_execute_solid_rejects_config_for_a_solid_without_config():
    @solid
    def plain() -> int:
        return 1

    with pytest.raises(ConfigError) as raised:
        execute_solid(plain, config={"x": 1})
    assert raised.value.errors == [("config", "solid 'plain' takes no config")]


def test_pipeline_tags_are_part_of_every_run(instance):
    @solid
    def one() -> int:
        return 1

    @pipeline(tags={"team": "data", "tier": "gold"})
    def tagged():
        one()

    result = execute_pipeline(tagged, instance=instance, tags={"tier": "silver"})
    assert instance.get_run(result.run_id).tags == {"team": "data", "tier": "silver"}


def test_executing_something_that_is_not_a_pipeline_records_nothing(instance):
    with pytest.raises(DefinitionError, match="expected a pipeline defined with @pipeline"):
        execute_pipeline("not a pipeline", instance=instance)  # type: ignore[arg-type]
    assert instance.runs() == []


def test_runs_accepts_a_status_name(instance):
    @solid
    def one() -> int:
        return 1

    @pipeline
    def single():
        one()

    execute_pipeline(single, instance=instance)
    assert len(instance.runs(status="SUCCESS")) == 1
    assert instance.runs(status="FAILURE") == []
