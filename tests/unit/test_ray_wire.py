"""What a Ray step task carries and returns: plain data that Ray serialises with msgpack."""

from __future__ import annotations

import threading

import msgpack
import pytest

from solidflow import Config, solid
from solidflow.definitions.graph import FanIn, FromOutput, FromValue
from solidflow.engine.executors.ray import stores
from solidflow.engine.executors.ray.committer import Committer, not_committed
from solidflow.engine.executors.ray.task_wire import (
    RayRunContext,
    UpstreamFailed,
    decode_step,
    encode_step,
)
from solidflow.engine.executors.ray.wire import decode_source, encode_source
from solidflow.engine.executors.ray.worker import run_step_task
from solidflow.engine.plan.steps import FromLoader
from solidflow.engine.step.task import StepTask
from solidflow.engine.store import IntermediateStore

pytestmark = pytest.mark.ray

CONTEXT = RayRunContext(
    pipeline_name="p",
    resources={},
    store_root=None,
    store_options={},
    actor_name="solidflow-events-test",
    namespace="solidflow",
)


class Threshold(Config):
    limit: int = 3


@solid
def combine(config: Threshold, first: int, rest: list[int], fixed: object) -> int:
    return first + sum(rest)


def _task(**changes) -> StepTask:
    fields = {
        "run_id": "r1",
        "pipeline_name": "p",
        "step_key": "combine",
        "solid": combine,
        "config": Threshold(limit=5),
        "inputs": {
            "first": FromOutput("a", "result"),
            "rest": FanIn((FromOutput("b", "result"), FromOutput("a", "result"))),
            "fixed": FromValue(frozenset({1})),
        },
        "handles": {("a", "result"): "ref-a", ("b", "result"): "ref-b"},
        "output_keys": {"result": "ab" * 32},
        "memo_key": "cd" * 32,
        "lineage": {"solid": "combine", "inputs": {"first": "ef" * 32}},
        "outputs_missing": True,
    }
    return StepTask(**{**fields, **changes})


@pytest.mark.parametrize(
    "source",
    [
        FromOutput("a", "result"),
        FanIn((FromOutput("a", "result"), FromOutput("b", "other"))),
        FromValue({"stop": 5}),
        FromLoader({"stop": 5}),
    ],
    ids=["output", "fan_in", "value", "loader"],
)
def test_each_kind_of_input_source_decodes_to_the_source_encoded(source):
    assert decode_source(encode_source(source)) == source


def test_a_step_decodes_to_the_task_that_was_encoded():
    task = _task()
    decoded = decode_step(CONTEXT, combine, encode_step(task), ["ref-a", "ref-b"])
    assert decoded == task
    assert decoded.input_values(lambda handle: handle) == {
        "first": "ref-a",
        "rest": ["ref-b", "ref-a"],
        "fixed": frozenset({1}),
    }


def test_a_plain_step_is_msgpack_data():
    task = _task(config=None, inputs={"first": FromOutput("a", "result")})
    assert msgpack.unpackb(msgpack.packb(encode_step(task))) == encode_step(task)


def test_a_step_reading_a_failed_output_is_skipped_without_running():
    failed = UpstreamFailed("a")
    outcome, output = run_step_task(CONTEXT, combine, encode_step(_task()), [failed, 2])
    assert outcome == [False, [], None, None, "a", [], [], None]
    assert output is failed


def test_the_end_of_a_run_waits_for_commits_and_names_those_that_never_come(tmp_path):
    worker, driver = IntermediateStore(str(tmp_path)), IntermediateStore(str(tmp_path))
    committed, lost = "ab" * 32, "cd" * 32
    worker.put(committed, 1, run_id="r1", step="a", output="result")
    threading.Timer(0.05, worker.flush).start()  # the worker's commit, a moment later
    try:
        assert not_committed(driver, [committed, lost], timeout=0.5) == [lost]
        assert driver.committed([committed]) == {committed}
    finally:
        worker.close()
        driver.close()


def test_a_worker_keeps_few_stores_open_and_commits_those_it_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(stores, "_STORES", {})
    first = stores.open_store(str(tmp_path / "s0"), {})
    first.put("ab" * 32, 1, run_id="r1", step="a", output="result")  # not committed yet
    for i in range(1, stores.STORES_KEPT + 1):
        stores.open_store(str(tmp_path / f"s{i}"), {})
    reader = IntermediateStore(str(tmp_path / "s0"))
    try:
        assert len(stores._STORES) == stores.STORES_KEPT
        assert reader.committed(["ab" * 32]) == {"ab" * 32}
        assert stores.open_store(str(tmp_path / "s0"), {}) is not first
    finally:
        for store in [reader, *stores._STORES.values()]:
            store.close()


def test_a_worker_commits_what_its_steps_stored_once_they_stop_storing(tmp_path):
    worker, driver = IntermediateStore(str(tmp_path)), IntermediateStore(str(tmp_path))
    keys = ["ab" * 32, "cd" * 32]
    committer = Committer()
    try:
        for key in keys:
            worker.put(key, 1, run_id="r1", step="a", output="result")
            committer.commit_soon(worker)
        assert not_committed(driver, keys, timeout=5.0) == []
        assert worker.uncommitted(keys) == []
    finally:
        worker.close()
        driver.close()
