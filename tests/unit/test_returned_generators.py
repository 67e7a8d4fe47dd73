"""Only a generator function's body is iterated: a solid that returns a generator object
returns a value, which its output type check judges like any other."""

from __future__ import annotations

from collections.abc import Iterator

from solidflow import Instance, Output, execute_pipeline, execute_solid, pipeline, solid
from solidflow.engine.events.records import EventType


def _numbers() -> Iterator[int]:
    yield from (1, 2, 3)


@solid
def lazy_numbers() -> Iterator[int]:
    return _numbers()


@solid
def outputs_in_disguise() -> int:
    return (Output(n) for n in (42,))


@solid
def yielding() -> Iterator[Output]:
    yield Output(7)


def test_a_returned_generator_is_the_output_value() -> None:
    result = execute_solid(lazy_numbers)
    assert result.success
    value = result.output_value()
    assert not isinstance(value, int) and list(value) == [1, 2, 3]


def test_a_returned_generator_fails_an_output_type_that_does_not_allow_it(tmp_path) -> None:
    @pipeline
    def disguised():
        outputs_in_disguise()

    result = execute_pipeline(disguised, instance=Instance(tmp_path / "home"))
    assert not result.success
    [failure] = [e for e in result.events if e.type is EventType.STEP_FAILURE]
    assert failure.step == "outputs_in_disguise"
    assert "generator" in failure.message and "int" in failure.message
    assert not [e for e in result.events if e.type is EventType.STEP_SUCCESS]


def test_a_generator_function_body_still_yields_outputs() -> None:
    assert execute_solid(yielding).output_value() == 7
