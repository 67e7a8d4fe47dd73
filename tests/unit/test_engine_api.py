"""The engine API that every face uses: run lookup, event descriptions, plans with memo
status, stored outputs and garbage collection, all as plain, serialisable data."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from solidflow import (
    Config,
    DataType,
    EventRecord,
    EventType,
    Instance,
    composite_solid,
    execute_pipeline,
    pipeline,
    solid,
    type_loader,
)
from solidflow.engine import (
    collect_garbage,
    describe_event,
    find_run,
    list_stored_outputs,
    plan_pipeline,
)
from solidflow.errors import ConfigError, RunNotFoundError, SelectionError


class Start(Config):
    value: int  # required: a plan's structure must not need it


@solid
def start(config: Start) -> int:
    return config.value


@solid
def double(x: int) -> int:
    return 2 * x


@solid
def total(values: list[int]) -> int:
    return sum(values)


@solid
def plus(x: int, y: int) -> int:
    return x + y


@composite_solid
def offset(x: int, by: int = 10) -> int:
    return plus(x, by)


@pipeline
def numbers():
    first = start()
    total([double(first), double.alias("again")(first), offset(first)])


CONFIG = {"solids": {"start": {"config": {"value": 3}}}}


def _json(value: object) -> object:
    """`value` through JSON, as an HTTP face would send it."""
    return json.loads(json.dumps(dataclasses.asdict(value)))  # type: ignore[arg-type]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    with Instance(tmp_path / "home") as opened:
        yield opened


def test_the_structure_of_a_plan_needs_no_config() -> None:
    planned = plan_pipeline(numbers)
    assert [step.key for step in planned.steps] == [
        "start",
        "double",
        "again",
        "offset.plus",
        "total",
    ]
    assert planned.config_errors == [("solids.start.config.value", "Field required")]
    assert not planned.memo_checked and all(step.memo is None for step in planned.steps)
    inputs = {step.key: {i.name: (i.kind, i.text) for i in step.inputs} for step in planned.steps}
    assert inputs["double"] == {"x": ("output", "start.result")}
    assert inputs["offset.plus"] == {
        "x": ("output", "start.result"),
        "y": ("default", "default value"),
    }
    assert inputs["total"]["values"] == (
        "fan_in",
        "[double.result, again.result, offset.plus.result]",
    )
    [fan_in] = planned.steps[-1].inputs
    assert [(s.step, s.output) for s in fan_in.sources][:2] == [
        ("double", "result"),
        ("again", "result"),
    ]
    assert planned.steps[-1].upstream == ["double", "again", "offset.plus"]


def test_inputs_of_unselected_upstream_steps_come_from_config() -> None:
    structure = plan_pipeline(numbers, solid_selection="double")
    [x] = structure.steps[0].inputs
    assert (x.kind, x.sources) == ("config", [])
    assert x.text == "value from run_config (upstream 'start' is not selected)"
    given = plan_pipeline(
        numbers, {"solids": {"double": {"inputs": {"x": 4}}}}, solid_selection="double"
    )
    assert given.config_errors == []
    assert [(i.kind, i.text) for i in given.steps[0].inputs] == [
        ("config", "value from run_config")
    ]


class Source(Config):
    path: str


@type_loader(Source)
def read_source(context, config: Source) -> str:
    return config.path


Text = DataType("Text", lambda value: isinstance(value, str), loader=read_source)


@solid
def combine(label: str, text: Text, extra: int = 0) -> str:  # type: ignore[valid-type]
    return f"{label}{text}{extra}"


@pipeline
def unwired():
    combine()


def test_unwired_inputs_and_loaded_inputs() -> None:
    structure = plan_pipeline(unwired)
    assert [(i.name, i.kind, i.text) for i in structure.steps[0].inputs] == [
        ("label", "config", "value from run_config"),
        ("text", "config", "value from run_config"),
    ]
    given = {"solids": {"combine": {"inputs": {"label": "a", "text": {"path": "p"}, "extra": 2}}}}
    planned = plan_pipeline(unwired, given)
    assert planned.config_errors == []
    assert [(i.name, i.kind, i.text) for i in planned.steps[0].inputs] == [
        ("label", "config", "value from run_config"),
        ("text", "loader", "loaded from run_config by its type's loader"),
        ("extra", "config", "value from run_config"),
    ]


def test_a_composite_is_selected_by_its_name() -> None:
    planned = plan_pipeline(numbers, solid_selection="offset+")
    assert [step.key for step in planned.steps] == ["offset.plus", "total"]
    [x, y] = planned.steps[0].inputs
    assert (x.kind, y.kind) == ("config", "default")


def test_selection_and_mode_errors_are_raised() -> None:
    with pytest.raises(SelectionError, match="dobule"):
        plan_pipeline(numbers, solid_selection="dobule")
    with pytest.raises(ConfigError, match="unknown mode 'fast'"):
        plan_pipeline(numbers, mode="fast")


def test_memo_status_says_what_runs_and_why(instance: Instance) -> None:
    first = plan_pipeline(numbers, CONFIG, memoize=True, instance=instance)
    assert first.memo_checked
    assert {step.memo.reason for step in first.steps} == {"runs: no earlier run of this step"}
    assert [c.kind for c in first.steps[0].memo.causes] == ["no_earlier_run"]

    run = execute_pipeline(numbers, CONFIG, instance=instance)
    stored = plan_pipeline(numbers, CONFIG, memoize=True, instance=instance)
    for step in stored.steps:
        assert step.memo.memoized and step.memo.reason == "memoized"
        assert step.memo.source_run_id == run.run_id and step.memo.causes == []

    changed = plan_pipeline(
        numbers, {"solids": {"start": {"config": {"value": 4}}}}, memoize=True, instance=instance
    )
    memos = {step.key: step.memo for step in changed.steps}
    assert [c.kind for c in memos["start"].causes] == ["config_changed"]
    assert memos["double"].reason == "runs: upstream changed (x)"
    assert memos["total"].reason == "runs: upstream changed (values)"
    assert memos["offset.plus"].source_run_id == run.run_id  # compared with that run
    assert _json(changed)["steps"][0]["memo"]["causes"] == [
        {"kind": "config_changed", "message": "config changed"}
    ]


def test_memo_status_needs_valid_config(instance: Instance) -> None:
    planned = plan_pipeline(numbers, memoize=True, instance=instance)
    assert not planned.memo_checked
    assert planned.config_errors and all(step.memo is None for step in planned.steps)
    assert len(planned.steps) == 5


def test_plans_are_plain_json() -> None:
    planned = plan_pipeline(numbers, CONFIG)
    data = _json(planned)
    assert data["pipeline"] == "numbers" and data["mode"] == "default"
    assert data["steps"][1] == {
        "key": "double",
        "solid": "double",
        "inputs": [
            {
                "name": "x",
                "kind": "output",
                "sources": [{"step": "start", "output": "result"}],
                "text": "start.result",
            }
        ],
        "outputs": ["result"],
        "upstream": ["start"],
        "memo": None,
    }


def test_find_run_by_id_prefix_and_latest(instance: Instance) -> None:
    with pytest.raises(RunNotFoundError, match="there are no runs in"):
        find_run(instance, "latest")
    first = execute_pipeline(numbers, CONFIG, instance=instance)
    second = execute_pipeline(numbers, CONFIG, instance=instance)
    assert find_run(instance, first.run_id).run_id == first.run_id
    assert find_run(instance, "latest").run_id == second.run_id
    common = 0
    while first.run_id[common] == second.run_id[common]:
        common += 1
    assert find_run(instance, second.run_id[: common + 1]).run_id == second.run_id
    if common:
        with pytest.raises(RunNotFoundError, match="matches 2 runs"):
            find_run(instance, first.run_id[:common])
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        find_run(instance, "nope")
    with pytest.raises(RunNotFoundError, match="give a run id"):
        find_run(instance, "")
    assert _json(find_run(instance, "latest"))["status"] == "SUCCESS"


def _event(kind: EventType, **payload: object) -> EventRecord:
    return EventRecord(run_id="r", seq=0, timestamp=1.0, type=kind, step="s", payload=payload)


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (_event(EventType.LOG, message="hello", level="INFO"), "hello"),
        (
            _event(EventType.STEP_OUTPUT, output="result", type_check=True, type="int"),
            "output 'result' type check passed (int)",
        ),
        (
            _event(EventType.STEP_INPUT, input="x", type_check=False, type="str"),
            "input 'x' type check FAILED (str)",
        ),
        (_event(EventType.STEP_SUCCESS, duration_ms=12), "succeeded in 12 ms"),
        (_event(EventType.STEP_START, attempt=1, pid=7), "started (attempt 1, pid 7)"),
        (_event(EventType.MATERIALIZATION, asset_key="daily"), "materialized daily"),
        (
            _event(EventType.EXPECTATION, success=False, label="rows"),
            "expectation 'rows' FAILED",
        ),
        (_event(EventType.RESOURCE_INIT), ""),
    ],
)
def test_describe_event(event: EventRecord, text: str) -> None:
    assert describe_event(event) == text


def test_store_listing_and_gc_of_the_instance_store(instance: Instance) -> None:
    first = execute_pipeline(numbers, CONFIG, instance=instance)
    execute_pipeline(numbers, {"solids": {"start": {"config": {"value": 5}}}}, instance=instance)
    listing = list_stored_outputs(instance)
    assert len(listing.outputs) == 10 and listing.root == instance.config.storage.root
    assert listing.total_bytes == sum(stored.bytes for stored in listing.outputs)
    mine = list_stored_outputs(instance, run_id=first.run_id)
    assert {stored.run_id for stored in mine.outputs} == {first.run_id}
    assert len(_json(mine)["outputs"]) == 5

    dry = collect_garbage(instance, keep_last=1, dry_run=True)
    assert len(dry.deleted) == 5 and dry.kept == 5
    assert len(list_stored_outputs(instance).outputs) == 10
    done = collect_garbage(instance, keep_last=1)
    assert done.freed_bytes > 0 and [s.key for s in done.deleted] == [s.key for s in dry.deleted]
    assert list_stored_outputs(instance, run_id=first.run_id).outputs == []
    assert _json(done)["kept"] == 5
