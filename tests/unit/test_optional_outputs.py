"""Optional outputs: Dagster's conditional-branch tutorial, ported by renaming only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from solidflow import (
    Config,
    Instance,
    Out,
    Output,
    execute_pipeline,
    execute_solid,
    pipeline,
    reexecute_pipeline,
    solid,
)
from solidflow.engine.events.records import EventType

CEREALS = [
    {"name": "100% Bran", "type": "C", "calories": 70},
    {"name": "Cream of Wheat", "type": "H", "calories": 100},
    {"name": "Corn Flakes", "type": "C", "calories": 100},
    {"name": "Maypo", "type": "H", "calories": 95},
]


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path) as opened:
        yield opened


class SplitConfig(Config):
    process_hot: bool = True
    process_cold: bool = True


@solid
def read_cereals() -> list[dict]:
    return CEREALS


@solid(
    outs={
        "hot_cereals": Out(list[dict], is_required=False, description="hot cereals"),
        "cold_cereals": Out(list[dict], is_required=False),
    }
)
def split_cereals(context, config: SplitConfig, cereals: list[dict]):
    if config.process_hot:
        yield Output([c for c in cereals if c["type"] == "H"], "hot_cereals")
    if config.process_cold:
        yield Output([c for c in cereals if c["type"] == "C"], "cold_cereals")


@solid
def sort_hot_cereals_by_calories(context, cereals: list[dict]) -> str:
    return sorted(cereals, key=lambda c: c["calories"])[0]["name"]


@solid
def sort_cold_cereals_by_calories(context, cereals: list[dict]) -> str:
    return sorted(cereals, key=lambda c: c["calories"])[0]["name"]


@solid
def shout(name: str) -> str:
    return name.upper()


@pipeline
def multiple_outputs_conditional_pipeline() -> None:
    hot_cereals, cold_cereals = split_cereals(read_cereals())
    shout(sort_hot_cereals_by_calories(hot_cereals))
    sort_cold_cereals_by_calories(cold_cereals)


def _split(**settings: bool) -> dict:
    return {"solids": {"split_cereals": {"config": settings}}}


def _of(result, kind: EventType, step: str | None = None) -> list:
    return [e for e in result.events if e.type is kind and (step is None or e.step == step)]


def test_both_branches_run_when_both_outputs_are_produced(instance: Instance) -> None:
    result = execute_pipeline(multiple_outputs_conditional_pipeline, instance=instance)
    assert result.success
    assert result.output_for("shout") == "MAYPO"
    assert result.output_for("sort_cold_cereals_by_calories") == "100% Bran"
    assert not _of(result, EventType.STEP_SKIPPED)


def test_a_missing_optional_output_skips_its_readers_and_the_run_succeeds(
    instance: Instance,
) -> None:
    result = execute_pipeline(
        multiple_outputs_conditional_pipeline, _split(process_hot=False), instance=instance
    )
    assert result.success
    assert result.output_for("sort_cold_cereals_by_calories") == "100% Bran"
    skipped = {e.step: e.message for e in _of(result, EventType.STEP_SKIPPED)}
    assert skipped == {
        "sort_hot_cereals_by_calories": "skipped because output 'hot_cereals' of step "
        "'split_cereals' was not produced",
        "shout": "skipped because upstream step 'sort_hot_cereals_by_calories' was skipped",
    }
    assert result.result_for("sort_hot_cereals_by_calories").skipped
    assert not _of(result, EventType.STEP_START, "sort_hot_cereals_by_calories")
    [absent] = [
        e
        for e in _of(result, EventType.STEP_OUTPUT, "split_cereals")
        if e.payload["output"] == "hot_cereals"
    ]
    assert absent.payload["produced"] is False
    assert absent.message == "optional output 'hot_cereals' was not produced"
    assert result.events[-1].message == "3 steps succeeded, 2 skipped"
    with pytest.raises(ValueError, match="did not produce its optional output 'hot_cereals'"):
        result.output_for("split_cereals", "hot_cereals")


def test_a_missing_required_output_still_fails_the_step(instance: Instance) -> None:
    @solid(outs={"always": int, "sometimes": Out(int, is_required=False)})
    def partial():
        yield Output(1, "sometimes")

    result = execute_solid(partial, raise_on_error=False)
    assert not result.success
    assert result.failure_message == "solid 'partial' did not produce output 'always'"


def test_execute_solid_says_when_an_optional_output_was_not_produced() -> None:
    result = execute_solid(
        split_cereals, inputs={"cereals": CEREALS}, config={"process_cold": False}
    )
    assert [c["name"] for c in result.output_value("hot_cereals")] == ["Cream of Wheat", "Maypo"]
    with pytest.raises(ValueError, match="did not produce its optional output 'cold_cereals'"):
        result.output_value("cold_cereals")


@solid(outs={"left": Out(int, is_required=False), "right": Out(int, is_required=False)})
def maybe(config: list[str]):
    for name in config:
        yield Output(len(name), name)


@solid
def total(numbers: list[int]) -> int:
    return sum(numbers)


@pipeline
def gathering() -> None:
    left, right = maybe()
    total([left, right])


def test_a_fan_in_reads_the_outputs_that_were_produced(instance: Instance) -> None:
    only_left = {"solids": {"maybe": {"config": ["left"]}}}
    assert execute_pipeline(gathering, only_left, instance=instance).output_for("total") == 4
    neither = execute_pipeline(gathering, {"solids": {"maybe": {"config": []}}}, instance=instance)
    assert neither.success and neither.result_for("total").skipped


def test_memoized_steps_skip_the_readers_of_outputs_they_did_not_produce(
    instance: Instance,
) -> None:
    config = _split(process_hot=False)
    first = execute_pipeline(multiple_outputs_conditional_pipeline, config, instance=instance)
    again = execute_pipeline(
        multiple_outputs_conditional_pipeline, config, instance=instance, memoize=True
    )
    assert again.success
    assert {e.step for e in _of(again, EventType.STEP_MEMOIZED)} == {
        "read_cereals",
        "split_cereals",
        "sort_cold_cereals_by_calories",
    }
    assert {e.step for e in _of(again, EventType.STEP_SKIPPED)} == {
        "sort_hot_cereals_by_calories",
        "shout",
    }
    assert not _of(again, EventType.STEP_START)
    assert first.output_for("sort_cold_cereals_by_calories") == again.output_for(
        "sort_cold_cereals_by_calories"
    )


def test_reexecution_from_failure_leaves_steps_skipped_by_design(instance: Instance) -> None:
    calls = []

    @solid
    def flaky(cereals: list[dict]) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first time")
        return len(cereals)

    @pipeline
    def conditional() -> None:
        hot, cold = split_cereals(read_cereals())
        sort_hot_cereals_by_calories(hot)
        flaky(cold)

    failed = execute_pipeline(conditional, _split(process_hot=False), instance=instance)
    assert not failed.success
    child = reexecute_pipeline(
        conditional, parent_run_id=failed.run_id, from_failure=True, instance=instance
    )
    assert child.success
    assert [e.step for e in _of(child, EventType.STEP_START)] == ["flaky"]
    assert child.output_for("flaky") == 2
