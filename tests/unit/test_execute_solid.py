"""execute_solid: one solid on its own, with inputs, config and resources."""

from collections.abc import Iterator
from typing import Any

import pytest

from solidflow import (
    Config,
    ExpectationResult,
    Materialization,
    Output,
    RetryPolicy,
    execute_solid,
    pipeline,
    resource,
    solid,
)
from solidflow.engine.events.records import EventType
from solidflow.errors import ConfigError, DefinitionError, StepFailure


class Scale(Config):
    factor: int
    label: str = "x"


@solid(required_resource_keys={"offset"})
def scaled(context, config: Scale, value: int, extra: int = 0) -> int:
    context.log.info(f"scaling {value}")
    return value * config.factor + context.resources.offset + extra


def event_types(result: Any) -> list[str]:
    return [e.type.value for e in result.events]


def test_inputs_config_and_plain_resources() -> None:
    result = execute_solid(scaled, {"value": 3}, {"factor": 2}, {"offset": 100})
    assert result.success
    assert result.output_value() == 106
    assert result.output_value("result") == 106
    assert event_types(result) == [
        "RESOURCE_INIT",  # resources are built before the step starts
        "STEP_START",
        "STEP_INPUT",
        "LOG",
        "STEP_OUTPUT",
        "STEP_SUCCESS",
    ]
    assert {e.step for e in result.events} == {"scaled", None}
    assert [e.seq for e in result.events] == list(range(len(result.events)))


def test_default_input_can_be_given_or_left_out() -> None:
    assert (
        execute_solid(scaled, {"value": 1, "extra": 5}, {"factor": 1}, {"offset": 0}).output_value()
        == 6
    )
    assert execute_solid(scaled, {"value": 1}, {"factor": 1}, {"offset": 0}).output_value() == 1


def test_config_object_is_accepted_as_is() -> None:
    seen = []

    @solid
    def keep(config: Scale) -> None:
        seen.append(config)

    config = Scale(factor=4, label="y")
    execute_solid(keep, config=config)
    assert seen == [config]


def test_context_of_an_isolated_solid() -> None:
    seen = {}

    @solid
    def look(context) -> None:
        seen.update(run_id=context.run_id, name=context.solid_name, config=context.config)

    execute_solid(look)
    assert seen["name"] == "look"
    assert seen["run_id"].startswith("execute_solid-")
    assert seen["config"] is None
    first = seen["run_id"]
    execute_solid(look)
    assert seen["run_id"] != first


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({"factor": "big"}, [("config.factor", "Input should be a valid integer")]),
        (None, [("config.factor", "Field required")]),
        ({}, [("config.factor", "Field required")]),
        ({"factor": 1, "other": 2}, [("config.other", "Extra inputs are not permitted")]),
    ],
)
def test_invalid_config(config: Any, errors: list[tuple[str, str]]) -> None:
    with pytest.raises(ConfigError) as info:
        execute_solid(scaled, {"value": 1}, config, {"offset": 0})
    assert [path for path, _ in info.value.errors] == [path for path, _ in errors]
    for (_, message), (_, expected) in zip(info.value.errors, errors, strict=True):
        assert message.startswith(expected)


def test_unknown_and_missing_inputs() -> None:
    with pytest.raises(ConfigError) as info:
        execute_solid(scaled, {"valu": 1}, {"factor": 1}, {"offset": 0})
    assert info.value.errors == [
        ("inputs.valu", "solid 'scaled' has no input 'valu'"),
        ("inputs.value", "Field required"),
    ]


def test_missing_resource() -> None:
    with pytest.raises(ConfigError) as info:
        execute_solid(scaled, {"value": 1}, {"factor": 1})
    assert info.value.errors == [("resources.offset", "solid 'scaled' requires this resource")]


def test_input_type_check_failure() -> None:
    with pytest.raises(StepFailure) as info:
        execute_solid(scaled, {"value": "3"}, {"factor": 1}, {"offset": 0})
    assert str(info.value) == (
        "solid 'scaled' input 'value': expected int, type check failed: "
        "value '3' of type str is not an int"
    )
    assert info.value.step == "scaled"
    assert info.value.original is None


def test_output_type_check_failure_without_raising() -> None:
    @solid
    def wrong() -> str:
        return 1  # type: ignore[return-value]

    result = execute_solid(wrong, raise_on_error=False)
    assert not result.success
    assert result.failure_message == (
        "solid 'wrong' output 'result': expected str, type check failed: "
        "value 1 of type int is not a str"
    )
    output = next(e for e in result.events if e.type is EventType.STEP_OUTPUT)
    assert output.payload["type_check"] is False


def test_failure_raises_with_the_original_exception() -> None:
    error = KeyError("missing")

    @solid
    def fails() -> None:
        raise error

    with pytest.raises(StepFailure) as info:
        execute_solid(fails)
    assert str(info.value) == "solid 'fails' raised KeyError: 'missing'"
    assert info.value.original is error
    assert info.value.__cause__ is error

    result = execute_solid(fails, raise_on_error=False)
    assert not result.success
    assert result.failure_message == "solid 'fails' raised KeyError: 'missing'"
    assert event_types(result) == ["STEP_START", "STEP_FAILURE"]
    with pytest.raises(ValueError, match="the solid failed: solid 'fails' raised KeyError"):
        result.output_value()


def test_multiple_outputs() -> None:
    @solid(outs={"low": int, "high": int})
    def bounds(n: int) -> tuple[int, int]:
        return n - 1, n + 1

    result = execute_solid(bounds, {"n": 5})
    assert (result.output_value("low"), result.output_value("high")) == (4, 6)
    with pytest.raises(KeyError, match="no output 'result'; outputs: low, high"):
        result.output_value()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "undeclared",
            "solid 'two' produced output 'c', which it does not declare (declared: a, b)",
        ),
        ("twice", "solid 'two' produced output 'a' twice"),
        ("missing", "solid 'two' did not produce output 'b'"),
        ("not_a_tuple", "solid 'two' declares outputs a, b and must return a tuple of 2 values"),
        ("junk", "solid 'two' yielded int; a solid body may yield Output, Materialization or"),
    ],
)
def test_bad_outputs(body: str, message: str) -> None:
    def undeclared() -> Iterator[Any]:
        yield Output(1, "c")

    def twice() -> Iterator[Any]:
        yield Output(1, "a")
        yield Output(2, "a")

    def missing() -> Iterator[Any]:
        yield Output(1, "a")

    def not_a_tuple() -> int:
        return 1

    def junk() -> Iterator[Any]:
        yield 5

    bodies = {f.__name__: f for f in (undeclared, twice, missing, not_a_tuple, junk)}
    two = solid(name="two", outs={"a": int, "b": int})(bodies[body])
    result = execute_solid(two, raise_on_error=False)
    assert not result.success
    assert result.failure_message.startswith(message)


def test_materializations_expectations_and_logs() -> None:
    @solid
    def checked(context, rows: list) -> Iterator[Any]:
        context.log.warning("few rows")
        yield ExpectationResult(len(rows) > 0, "has_rows", metadata={"n": len(rows)})
        yield Materialization("out.rows", metadata={"n": len(rows)})
        yield Output(len(rows))

    result = execute_solid(checked, {"rows": [1, 2]})
    assert result.output_value() == 2
    assert result.expectation_results == [ExpectationResult(True, "has_rows", {"n": 2})]
    assert result.materializations == [Materialization("out.rows", {"n": 2})]
    [log] = [e for e in result.events if e.type is EventType.LOG]
    assert log.payload == {"level": "WARNING", "message": "few rows"}


class OffsetConfig(Config):
    base: int


def offset_resource(log: list[str]) -> Any:
    @resource(config=OffsetConfig)
    def offset(init_context):
        log.append(f"init {init_context.config.base}")
        yield init_context.config.base
        log.append("teardown")

    return offset


def test_resource_definition_is_initialised_and_torn_down() -> None:
    log: list[str] = []

    @solid(required_resource_keys={"offset"})
    def use(context) -> int:
        log.append("body")
        return context.resources.offset

    result = execute_solid(use, resources={"offset": offset_resource(log).configured({"base": 7})})
    assert result.output_value() == 7
    assert log == ["init 7", "body", "teardown"]
    assert event_types(result) == [
        "RESOURCE_INIT",
        "STEP_START",
        "STEP_OUTPUT",
        "STEP_SUCCESS",
        "RESOURCE_TEARDOWN",
    ]


def test_resource_is_torn_down_when_the_solid_fails() -> None:
    log: list[str] = []

    @solid(required_resource_keys={"offset"})
    def fails(context) -> int:
        raise RuntimeError("no")

    with pytest.raises(StepFailure):
        execute_solid(fails, resources={"offset": offset_resource(log).configured({"base": 1})})
    assert log == ["init 1", "teardown"]


def test_resource_definition_config_is_validated() -> None:
    log: list[str] = []
    offset = offset_resource(log)
    with pytest.raises(ConfigError) as info:
        execute_solid(scaled, {"value": 1}, {"factor": 1}, {"offset": offset})
    assert info.value.errors == [("resources.offset.config.base", "Field required")]
    with pytest.raises(ConfigError) as info:
        execute_solid(
            scaled, {"value": 1}, {"factor": 1}, {"offset": offset.configured({"base": "x"})}
        )
    assert info.value.errors[0][0] == "resources.offset.config.base"
    assert log == []


def test_failing_resource_fails_the_solid() -> None:
    @resource
    def broken(init_context):
        raise ConnectionError("down")

    with pytest.raises(StepFailure) as info:
        execute_solid(scaled, {"value": 1}, {"factor": 1}, {"offset": broken})
    assert str(info.value) == "resource 'offset' failed to initialise: ConnectionError: down"
    assert isinstance(info.value.original, ConnectionError)


def test_teardown_failure_fails_the_solid() -> None:
    @resource
    def leaky(init_context):
        yield 0
        raise OSError("close failed")

    result = execute_solid(
        scaled, {"value": 1}, {"factor": 1}, {"offset": leaky}, raise_on_error=False
    )
    assert not result.success
    assert result.failure_message == "resource 'offset' teardown failed: OSError: close failed"
    with pytest.raises(StepFailure, match="teardown failed"):
        execute_solid(scaled, {"value": 1}, {"factor": 1}, {"offset": leaky})


def test_retry_policy_applies() -> None:
    attempts = []

    @solid(retry=RetryPolicy(max_retries=1))
    def second_time() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first")
        return 2

    result = execute_solid(second_time)
    assert result.output_value() == 2
    assert event_types(result).count("STEP_RETRY") == 1


def test_execute_solid_needs_a_solid() -> None:
    @solid
    def one() -> int:
        return 1

    @pipeline
    def whole() -> None:
        one()

    with pytest.raises(DefinitionError, match="execute_solid needs a solid"):
        execute_solid(whole)  # type: ignore[arg-type]
