"""Where and when the actor engine sends steps: the dispatcher's bookkeeping, without Ray."""

from __future__ import annotations

import pytest

from solidflow import pipeline, solid
from solidflow.engine.executors.ray.dispatch import Dispatcher
from solidflow.engine.executors.ray.pool import Worker, WorkerPool
from solidflow.engine.executors.ray.step_tracking import SENT, Promise
from solidflow.engine.executors.ray.wire import EXPORT, KEEP, Where
from solidflow.engine.plan.steps import addresses_read
from solidflow.engine.step.task import StepTask

pytestmark = pytest.mark.ray


@solid
def source() -> int:
    return 1


@solid
def add(a: int, b: int) -> int:
    return a + b


@solid
def inc(x: int) -> int:
    return x + 1


@pipeline
def dag():
    one, two = source.alias("one")(), source.alias("two")()
    total = add(one, two)
    inc.alias("after")(total)
    inc.alias("other")(one)


POOL = WorkerPool("{}", {})


def _workers(count: int = 2) -> list[Worker]:
    return [Worker(handle=None, pool=POOL, node_id=f"n{i}") for i in range(count)]


def _task(key: str, readers: dict[str, int] | None = None) -> StepTask:
    node = dag.nodes[key]
    handles = {address: Promise(*address) for address in addresses_read(node.inputs)}
    return StepTask(
        run_id="r",
        pipeline_name="dag",
        step_key=key,
        solid=node.solid,
        config=None,
        inputs=node.inputs,
        handles=handles,
        readers=readers or {},
    )


def _add(dispatch: Dispatcher, key: str, readers: int = 0) -> None:
    dispatch.add(_task(key, {"result": readers} if readers else {}), 7, POOL, {"result": readers})


def _sent(dispatch: Dispatcher, workers: list[Worker]) -> dict[str, list[str]]:
    return {w.node_id: [s.key for s in batch] for w, batch in dispatch.batches(workers)}


def test_steps_of_an_unknown_solid_go_one_per_batch_then_in_batches_as_they_prove_quick():
    dispatch, workers = Dispatcher(), _workers()
    for key in ("one", "two"):
        _add(dispatch, key)
    assert _sent(dispatch, workers) == {"n0": ["one"], "n1": ["two"]}
    dispatch.estimates.measured([7], 0.0001)
    fresh = Dispatcher()
    fresh.estimates = dispatch.estimates
    for i in range(50):
        fresh.add(_task("one"), 7, POOL, {})
        fresh.steps[f"s{i}"] = fresh.steps.pop("one")
    assert [len(batch) for _, batch in fresh.batches(workers[:1])] == [50]


def test_a_reader_goes_to_its_producers_worker_right_behind_it():
    dispatch, workers = Dispatcher(), _workers()
    dispatch.estimates.measured([7], 0.0001)
    _add(dispatch, "one", readers=2)
    _add(dispatch, "other")
    sent = _sent(dispatch, workers)
    assert sent == {"n0": ["one", "other"]}  # pipelined: it reads one's output from the cache
    step = dispatch.steps["other"]
    assert step.state == SENT and dispatch.wire_step(step)[4] == [[Where.WORKER, "one", "result"]]
    assert dispatch.steps["one"].flags == {"result": KEEP | EXPORT}


def test_a_reader_of_two_workers_outputs_waits_for_both_then_gets_their_values():
    dispatch, workers = Dispatcher(), _workers()
    _add(dispatch, "one", readers=1)
    _add(dispatch, "two", readers=1)
    _add(dispatch, "add")
    assert _sent(dispatch, workers) == {"n0": ["one"], "n1": ["two"]}
    assert dispatch.steps["add"].state != SENT
    dispatch.ended(dispatch.steps["one"], {"result": [Where.VALUE, 1]}, None)
    assert _sent(dispatch, workers) == {}
    dispatch.ended(dispatch.steps["two"], {"result": [Where.VALUE, 2]}, None)
    sent = _sent(dispatch, workers)
    assert list(sent.values()) == [["add"]]
    wire = dispatch.wire_step(dispatch.steps["add"])
    assert wire[4] == [[Where.VALUE, 1], [Where.VALUE, 2]]


def test_outputs_cached_on_two_workers_are_exported_for_their_reader():
    dispatch, workers = Dispatcher(), _workers()
    _add(dispatch, "one", readers=1)
    _add(dispatch, "two", readers=1)
    _add(dispatch, "add")
    _sent(dispatch, workers)
    dispatch.ended(dispatch.steps["one"], {"result": [Where.WORKER]}, None)
    dispatch.ended(dispatch.steps["two"], {"result": [Where.WORKER]}, None)
    assert len(dispatch.exports) == 1  # one of them goes to the other's worker
    [(holder, [address])] = dispatch.exports.items()
    dispatch.exported(holder, [[*address, "ref"]])
    [(worker, batch)] = list(dispatch.batches(workers))
    assert worker is not holder and [s.key for s in batch] == ["add"]


def test_readers_of_a_failed_step_are_skipped_without_being_sent():
    dispatch, workers = Dispatcher(), _workers()
    _add(dispatch, "one", readers=1)
    _add(dispatch, "two", readers=1)
    _add(dispatch, "add", readers=1)
    _add(dispatch, "after")
    _sent(dispatch, workers)
    dispatch.ended(dispatch.steps["two"], None, "two")
    assert sorted((s.key, failed) for s, failed in dispatch.skipped) == [
        ("add", "two"),
        ("after", "two"),
    ]
