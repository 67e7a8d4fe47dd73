"""A composite solid's outputs and result are reached by the composite's own name, as any
solid's are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from solidflow import (
    Instance,
    StepStatus,
    composite_solid,
    execute_pipeline,
    pipeline,
    solid,
)


@solid
def one() -> int:
    return 1


@solid
def add(x: int, y: int = 1) -> int:
    return x + y


@solid(outs={"total": int, "label": str})
def summary(x: int) -> Any:
    return x, f"total {x}"


@solid
def explode(x: int) -> int:
    raise ValueError(f"cannot take {x}")


@composite_solid
def plus_two(x: int) -> int:
    return add.alias("again")(add(x))


@composite_solid
def described(x: int) -> Any:
    total, label = summary(plus_two(x))
    return {"total": total, "label": label}


@composite_solid
def passthrough(x: int, extra: int = 7) -> Any:
    return {"same": x, "extra": extra, "both": add(x, extra)}


@composite_solid
def broken(x: int) -> int:
    return add(explode(x))


@pipeline
def arithmetic():
    first = one()
    add.alias("after")(plus_two(first))
    described(first)
    passthrough(first)


@pipeline
def failing():
    broken(one())


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    with Instance(tmp_path / "home") as opened:
        yield opened


def test_outputs_by_the_composite_name(instance: Instance) -> None:
    result = execute_pipeline(arithmetic, instance=instance)
    assert result.success
    assert result.output_for("plus_two") == 3 == result.output_for("plus_two.again")
    assert result.output_for("after") == 4
    assert result.output_for("described", "total") == 3
    assert result.output_for("described", "label") == "total 3"
    assert result.output_for("described.plus_two") == 3  # a composite inside a composite
    assert result.output_for("passthrough", "same") == 1  # its input, handed on
    assert result.output_for("passthrough", "extra") == 7  # an input's default
    assert result.output_for("passthrough", "both") == 8


def test_result_for_a_composite_gathers_its_solids(instance: Instance) -> None:
    result = execute_pipeline(arithmetic, instance=instance)
    whole = result.result_for("described")
    assert whole.success and whole.status is StepStatus.SUCCEEDED
    assert {event.step for event in whole.events} == {
        "described.plus_two.add",
        "described.plus_two.again",
        "described.summary",
    }
    memoized = execute_pipeline(arithmetic, instance=instance, memoize=True)
    assert memoized.result_for("plus_two").status is StepStatus.MEMOIZED
    assert memoized.output_for("plus_two") == 3


def test_a_failed_composite(instance: Instance) -> None:
    result = execute_pipeline(failing, instance=instance)
    whole = result.result_for("broken")
    assert whole.status is StepStatus.FAILED and not whole.success
    assert "cannot take 1" in whole.failure_message
    with pytest.raises(ValueError, match="solid 'broken' did not succeed"):
        result.output_for("broken")


def test_unknown_names_and_outputs(instance: Instance) -> None:
    result = execute_pipeline(arithmetic, instance=instance)
    with pytest.raises(KeyError, match="composite solid 'described' has no output 'result'"):
        result.output_for("described")
    with pytest.raises(KeyError, match=r"has no solid 'plus_three'.*plus_two"):
        result.result_for("plus_three")
    partial = execute_pipeline(arithmetic, instance=instance, solid_selection="*plus_two.add")
    assert partial.result_for("plus_two").success
    with pytest.raises(KeyError, match=r"comes from solid 'plus_two\.again', which run"):
        partial.output_for("plus_two")
    with pytest.raises(KeyError, match="has no solid 'described'"):
        partial.result_for("described")
