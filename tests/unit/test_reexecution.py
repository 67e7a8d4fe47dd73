"""Re-execution of a run's subset from its stored outputs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from solidflow import Instance, execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.run.targets import load_pipeline
from solidflow.engine.store import IntermediateStore
from solidflow.errors import ReexecutionError

PIPELINE = """
from solidflow import pipeline, solid

@solid
def load() -> list:
    return [1, 2, 3]

@solid
def transform(rows: list) -> list:
    {transform_body}

@solid
def report(rows: list) -> int:
    return sum(rows)

@solid
def audit(rows: list) -> int:
    return len(rows)

@pipeline
def etl():
    rows = load()
    report(transform(rows))
    audit(rows)
"""
BROKEN = 'raise ValueError("bad rows")'
FIXED = "return [row * 10 for row in rows]"


def _write(path: Path, body: str) -> str:
    path.write_text(textwrap.dedent(PIPELINE).replace("{transform_body}", body))
    return f"{path}:etl"


def _steps(result, kind: EventType) -> list[str]:
    return [e.step for e in result.events if e.type is kind]


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return Instance(tmp_path / "home")


def test_reexecute_from_failure_after_fixing_the_code(tmp_path, instance):
    target = _write(tmp_path / "etl_pipeline.py", BROKEN)
    pipeline, target = load_pipeline(target)
    failed = execute_pipeline(pipeline, instance=instance, target=target)
    assert not failed.success
    assert _steps(failed, EventType.STEP_FAILURE) == ["transform"]
    assert _steps(failed, EventType.STEP_SKIPPED) == ["report"]

    _write(tmp_path / "etl_pipeline.py", FIXED + "  # fixed")
    child = reexecute_pipeline(failed.run_id, from_failure=True, instance=instance)
    assert child.success
    assert _steps(child, EventType.STEP_SUCCESS) == ["transform", "report"]
    assert child.output_for("report") == 60
    record = instance.get_run(child.run_id)
    assert record.parent_run_id == failed.run_id and record.root_run_id == failed.run_id
    assert record.status is RunStatus.SUCCESS

    grandchild = reexecute_pipeline(child.run_id, solid_selection="report", instance=instance)
    assert _steps(grandchild, EventType.STEP_SUCCESS) == ["report"]
    assert grandchild.output_for("report") == 60
    assert instance.get_run(grandchild.run_id).root_run_id == failed.run_id


def test_reexecute_selection_reads_unselected_inputs_from_the_store(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_ok.py", FIXED))
    parent = execute_pipeline(pipeline, instance=instance, target=target)
    assert parent.success
    child = reexecute_pipeline(parent.run_id, solid_selection="report", instance=instance)
    assert child.success and child.output_for("report") == 60
    # the re-loaded module ran only `report`; `load` and `transform` came from the store
    assert _steps(child, EventType.STEP_START) == ["report"]
    start = next(e for e in child.events if e.type is EventType.RUN_START)
    assert [step for step, _, _ in start.payload["external"]] == ["transform"]


def test_missing_parent_output_is_reported_before_anything_runs(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_missing.py", FIXED))
    parent = execute_pipeline(pipeline, instance=instance, target=target)
    [key] = [
        e.payload["key"]
        for e in parent.events
        if e.type is EventType.STEP_OUTPUT and e.step == "transform"
    ]
    store = IntermediateStore(instance.config.storage.root)
    store.delete(key)
    store.close()
    runs_before = len(instance.runs())
    with pytest.raises(ReexecutionError) as raised:
        reexecute_pipeline(parent.run_id, solid_selection="report", instance=instance)
    message = str(raised.value)
    assert "output 'result' of step 'transform' (read by 'report')" in message
    assert "missing" in message
    assert len(instance.runs()) == runs_before  # nothing ran


def test_unknown_parent_and_conflicting_options(instance):
    with pytest.raises(ReexecutionError, match="no run with id 'nope'"):
        reexecute_pipeline("nope", instance=instance)


def test_reexecuting_a_reexecution_reads_inputs_stored_by_its_ancestors(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_chain.py", FIXED))
    first = execute_pipeline(pipeline, instance=instance, target=target)
    # the second run neither runs nor reads `load`: it reads `transform`'s output only
    second = reexecute_pipeline(first.run_id, solid_selection="report", instance=instance)
    assert second.success
    third = reexecute_pipeline(second.run_id, solid_selection="transform", instance=instance)
    assert third.success, [e.message for e in third.events]
    assert _steps(third, EventType.STEP_START) == ["transform"]
    [load_key] = [
        e.payload["key"]
        for e in first.events
        if e.type is EventType.STEP_OUTPUT and e.step == "load"
    ]
    start = next(e for e in third.events if e.type is EventType.RUN_START)
    assert start.payload["external"] == [["load", "result", load_key]]
    assert third.output_for("transform") == [10, 20, 30]


def test_an_output_no_ancestor_stored_is_reported_with_the_runs_searched(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_partial.py", FIXED))
    first = execute_pipeline(pipeline, solid_selection="load", instance=instance, target=target)
    second = reexecute_pipeline(first.run_id, instance=instance, solid_selection="load")
    with pytest.raises(ReexecutionError) as raised:
        reexecute_pipeline(second.run_id, solid_selection="report", instance=instance)
    message = str(raised.value)
    assert "output 'result' of step 'transform' (read by 'report')" in message
    assert f"was not stored by run {second.run_id} or its ancestors ({first.run_id})" in message


def test_from_failure_selects_only_steps_of_the_parents_plan(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_plan.py", BROKEN))
    first = execute_pipeline(pipeline, instance=instance, target=target)
    assert not first.success
    # a re-execution of `transform` alone fails again: only it is in that run's plan
    second = reexecute_pipeline(first.run_id, solid_selection="transform", instance=instance)
    assert _steps(second, EventType.STEP_FAILURE) == ["transform"]
    _write(tmp_path / "etl_plan.py", FIXED + "  # fixed")
    third = reexecute_pipeline(second.run_id, from_failure=True, instance=instance)
    assert third.success
    assert _steps(third, EventType.STEP_START) == ["transform"]


def test_from_failure_of_a_run_that_succeeded_says_there_is_nothing_to_run(tmp_path, instance):
    pipeline, target = load_pipeline(_write(tmp_path / "etl_fine.py", FIXED))
    done = execute_pipeline(pipeline, instance=instance, target=target)
    with pytest.raises(ReexecutionError, match=f"every step of run {done.run_id} succeeded"):
        reexecute_pipeline(done.run_id, from_failure=True, instance=instance)


def test_from_failure_also_recomputes_inputs_the_store_lost(tmp_path, instance):
    target = _write(tmp_path / "etl_lost.py", BROKEN)
    pipeline, target = load_pipeline(target)
    failed = execute_pipeline(pipeline, instance=instance, target=target)
    [key] = [
        e.payload["key"]
        for e in failed.events
        if e.type is EventType.STEP_OUTPUT and e.step == "load"
    ]
    store = IntermediateStore(instance.config.storage.root)
    store.delete(key)
    store.close()
    _write(tmp_path / "etl_lost.py", FIXED + "  # fixed")
    child = reexecute_pipeline(failed.run_id, from_failure=True, instance=instance)
    assert child.success
    assert _steps(child, EventType.STEP_START) == ["load", "transform", "report"]
