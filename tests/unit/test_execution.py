"""execute_pipeline with the in-process executor: outputs, events, failures, retries,
resources, selection and what the instance records."""

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from solidflow import (
    Config,
    ExpectationResult,
    Instance,
    Materialization,
    Mode,
    Output,
    RetryPolicy,
    composite_solid,
    execute_pipeline,
    pipeline,
    resource,
    solid,
)
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.errors import ConfigError, SelectionError, StepFailure


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path) as opened:
        yield opened


def types_of(events: list[EventRecord], step: str | None = "*") -> list[str]:
    return [e.type.value for e in events if step == "*" or e.step == step]


@solid
def one() -> int:
    return 1


@solid
def add(a: int, b: int = 10) -> int:
    return a + b


@solid
def double(x: int) -> int:
    return 2 * x


# --- outputs ---------------------------------------------------------------------------------


def test_outputs_flow_along_the_graph(instance: Instance) -> None:
    @pipeline
    def chain() -> None:
        double(add(one(), one.alias("two")()))

    result = execute_pipeline(chain, instance=instance)
    assert result.success
    assert result.status is RunStatus.SUCCESS
    assert result.output_for("add") == 2
    assert result.output_for("double") == 4
    assert result.result_for("double").success
    assert instance.get_run(result.run_id).status is RunStatus.SUCCESS


def test_unwired_input_uses_its_default(instance: Instance) -> None:
    @pipeline
    def defaulted() -> None:
        add(one())

    assert execute_pipeline(defaulted, instance=instance).output_for("add") == 11


def test_multiple_outputs_by_tuple_and_by_yield(instance: Instance) -> None:
    @solid(outs={"quotient": int, "remainder": int})
    def divide(n: int) -> tuple[int, int]:
        return divmod(n, 3)

    @solid(outs={"low": int, "high": int})
    def bounds(n: int) -> Iterator[Output]:
        yield Output(n + 1, "high")
        yield Output(n - 1, "low")

    @solid
    def combine(a: int, b: int, c: int, d: int) -> list[int]:
        return [a, b, c, d]

    @solid
    def seven() -> int:
        return 7

    @pipeline
    def split() -> None:
        quotient, remainder = divide(seven())
        limits = bounds(seven.alias("seven_again")())
        combine(quotient, remainder, limits.low, limits.high)

    result = execute_pipeline(split, instance=instance)
    assert result.output_for("divide", "quotient") == 2
    assert result.output_for("divide", "remainder") == 1
    assert result.output_for("combine") == [2, 1, 6, 8]
    with pytest.raises(KeyError, match="solid 'divide' has no output 'result'"):
        result.output_for("divide")


def test_fan_in_passes_outputs_in_order(instance: Instance) -> None:
    @solid
    def gather(values: list[int]) -> list[int]:
        return values

    @pipeline
    def fanned() -> None:
        gather([double(one()), one.alias("first")(), add(one.alias("third")())])

    assert execute_pipeline(fanned, instance=instance).output_for("gather") == [2, 1, 11]


def test_composites_and_aliases(instance: Instance) -> None:
    class Step(Config):
        by: int

    names = []

    @solid
    def bump(context, config: Step, x: int) -> int:
        names.append(context.solid_name)
        return x + config.by

    @composite_solid
    def bump_twice(x: int) -> Any:
        return bump.alias("again")(bump(x))

    @pipeline
    def bumped() -> None:
        bump_twice(bump.alias("first")(one()))

    run_config = {
        "solids": {
            "first": {"config": {"by": 1}},
            "bump_twice": {
                "solids": {"bump": {"config": {"by": 10}}, "again": {"config": {"by": 100}}}
            },
        }
    }
    result = execute_pipeline(bumped, run_config, instance=instance)
    assert result.output_for("first") == 2
    assert result.output_for("bump_twice.bump") == 12
    assert result.output_for("bump_twice.again") == 112
    assert names == ["first", "bump_twice.bump", "bump_twice.again"]
    assert {e.step for e in result.events if e.step} == {
        "one",
        "first",
        "bump_twice.bump",
        "bump_twice.again",
    }


def test_context_carries_run_id_config_and_pipeline(instance: Instance) -> None:
    class Greeting(Config):
        word: str = "hi"

    seen = {}

    @solid
    def look(context, config: Greeting) -> None:
        seen.update(
            run_id=context.run_id,
            solid=context.solid_name,
            config=context.config,
            pipeline=context.pipeline_name,
        )

    @pipeline
    def looking() -> None:
        look()

    result = execute_pipeline(looking, instance=instance)
    assert seen == {
        "run_id": result.run_id,
        "solid": "look",
        "config": Greeting(),
        "pipeline": "looking",
    }


def test_unknown_solid_in_result(instance: Instance) -> None:
    @pipeline
    def single() -> None:
        one()

    result = execute_pipeline(single, instance=instance)
    with pytest.raises(KeyError, match="has no solid 'two' \\(its solids: one\\)"):
        result.result_for("two")


# --- events ----------------------------------------------------------------------------------


def test_events_of_a_run_in_order(instance: Instance) -> None:
    @solid
    def noisy(context, a: int, b: int) -> int:
        context.log.info("adding")
        context.log.warning("careful")
        context.log.error("done")
        return a + b

    @pipeline
    def logged() -> None:
        noisy(one(), one.alias("other")())

    result = execute_pipeline(logged, instance=instance, tags={"team": "data"})
    events = result.events
    assert [e.seq for e in events] == list(range(len(events)))
    assert {e.run_id for e in events} == {result.run_id}
    assert events[0].type is EventType.RUN_START
    assert events[0].payload["steps"] == ["one", "other", "noisy"]
    assert events[-1].type is EventType.RUN_SUCCESS
    assert events[-1].message == "3 steps succeeded"
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(events))
    assert types_of(events, "noisy") == [
        "STEP_START",
        "STEP_INPUT",
        "STEP_INPUT",
        "LOG",
        "LOG",
        "LOG",
        "STEP_OUTPUT",
        "STEP_SUCCESS",
    ]
    inputs = [e.payload for e in events if e.type is EventType.STEP_INPUT and e.step == "noisy"]
    assert [(p["input"], p["type"], p["type_check"]) for p in inputs] == [
        ("a", "int", True),
        ("b", "int", True),
    ]
    logs = [(e.payload["level"], e.payload["message"]) for e in events if e.type is EventType.LOG]
    assert logs == [("INFO", "adding"), ("WARNING", "careful"), ("ERROR", "done")]
    first_noisy = next(i for i, e in enumerate(events) if e.step == "noisy")
    assert {e.step for e in events[1:first_noisy]} == {"one", "other"}
    assert types_of(events[1:first_noisy]).count("STEP_SUCCESS") == 2
    assert result.result_for("noisy").events == [e for e in events if e.step == "noisy"]


def test_events_are_durable_in_the_instance(instance: Instance, tmp_path: Any) -> None:
    @pipeline
    def chain() -> None:
        double(one())

    result = execute_pipeline(chain, instance=instance)
    with Instance(tmp_path) as reopened:
        stored = reopened.events(result.run_id)
    assert [(e.seq, e.type, e.step, e.payload) for e in stored] == [
        (e.seq, e.type, e.step, e.payload) for e in result.events
    ]


def test_tags_are_recorded(instance: Instance) -> None:
    @pipeline
    def tagged() -> None:
        one()

    result = execute_pipeline(tagged, instance=instance, tags={"team": "data", "attempt": "2"})
    run = instance.get_run(result.run_id)
    assert run.tags == {"team": "data", "attempt": "2"}
    assert run.pipeline_name == "tagged"
    assert run.mode == "default"
    assert result.events[0].payload["tags"] == {"team": "data", "attempt": "2"}


def test_materializations_and_expectations(instance: Instance) -> None:
    @solid
    def write(context) -> Iterator[Any]:
        yield Materialization("warehouse.orders", metadata={"rows": 3}, description="orders")
        yield ExpectationResult(True, "not_empty", metadata={"rows": 3})
        yield ExpectationResult(False, "unique_ids")
        yield Output(3)

    @pipeline
    def writing() -> None:
        double(write())

    result = execute_pipeline(writing, instance=instance)
    written = result.result_for("write")
    assert written.materializations == [Materialization("warehouse.orders", {"rows": 3}, "orders")]
    assert written.expectation_results == [
        ExpectationResult(True, "not_empty", {"rows": 3}),
        ExpectationResult(False, "unique_ids"),
    ]
    assert result.output_for("double") == 6
    assert result.result_for("double").materializations == []
    stored = instance.events(result.run_id)
    assert [e.payload["asset_key"] for e in stored if e.type is EventType.MATERIALIZATION] == [
        "warehouse.orders"
    ]
    assert [e.payload["label"] for e in stored if e.type is EventType.EXPECTATION] == [
        "not_empty",
        "unique_ids",
    ]


# --- failures --------------------------------------------------------------------------------


def test_type_check_failure_fails_the_step(instance: Instance) -> None:
    calls = []

    @solid
    def text() -> str:
        return "seven"

    @solid
    def takes_any(x):
        return x

    @solid
    def needs_int(x: int) -> int:
        calls.append(x)
        return x

    @pipeline
    def mistyped() -> None:
        needs_int(takes_any(text()))

    result = execute_pipeline(mistyped, instance=instance)
    assert not result.success
    failed = result.result_for("needs_int")
    assert not failed.success
    assert failed.failure_message == (
        "solid 'needs_int' input 'x': expected int, type check failed: "
        "value 'seven' of type str is not an int"
    )
    assert calls == []
    [checked] = [e for e in failed.events if e.type is EventType.STEP_INPUT]
    assert checked.payload == {
        "input": "x",
        "type": "int",
        "type_check": False,
        "description": "value 'seven' of type str is not an int",
    }
    [failure] = [e for e in failed.events if e.type is EventType.STEP_FAILURE]
    assert failure.payload["message"] == failed.failure_message
    assert failure.payload["kind"] == "type_check"


def test_output_type_check_failure(instance: Instance) -> None:
    @solid
    def lies() -> int:
        return "not an int"  # type: ignore[return-value]

    @pipeline
    def lying() -> None:
        double(lies())

    result = execute_pipeline(lying, instance=instance)
    assert result.result_for("lies").failure_message == (
        "solid 'lies' output 'result': expected int, type check failed: "
        "value 'not an int' of type str is not an int"
    )
    [output] = [e for e in result.events if e.type is EventType.STEP_OUTPUT]
    assert output.payload["type_check"] is False
    assert result.result_for("double").skipped


@solid
def explode(x: int) -> int:
    raise ValueError(f"cannot handle {x}")


@pipeline
def branching() -> None:
    start = one()
    double.alias("after")(double(explode(start)))
    add(start)


def test_failure_skips_descendants_and_independent_branch_runs(instance: Instance) -> None:
    result = execute_pipeline(branching, instance=instance)
    assert not result.success
    assert result.result_for("explode").failure_message == (
        "solid 'explode' raised ValueError: cannot handle 1"
    )
    assert result.output_for("add") == 11
    for skipped in ("double", "after"):
        outcome = result.result_for(skipped)
        assert outcome.skipped and not outcome.success
        [event] = outcome.events
        assert event.type is EventType.STEP_SKIPPED
        assert event.payload == {
            "message": "skipped because upstream step 'explode' failed",
            "upstream": "explode",
        }
    with pytest.raises(ValueError, match="solid 'after' did not succeed"):
        result.output_for("after")
    assert result.events[-1].type is EventType.RUN_FAILURE
    assert result.events[-1].message == "1 of 5 steps failed: explode; 2 skipped"
    assert result.events[-1].payload["failed_steps"] == ["explode"]
    assert instance.get_run(result.run_id).status is RunStatus.FAILURE


def test_step_failure_event_keeps_the_step_message_and_the_traceback(instance: Instance) -> None:
    result = execute_pipeline(branching, instance=instance)
    [failure] = [e for e in result.events if e.type is EventType.STEP_FAILURE]
    assert failure.payload["message"] == "solid 'explode' raised ValueError: cannot handle 1"
    assert failure.payload["kind"] == "user_code"
    assert failure.payload["error_class"] == "ValueError"
    assert 'raise ValueError(f"cannot handle {x}")' in failure.payload["traceback"]
    assert "engine/step/runner.py" not in failure.payload["traceback"]


def test_a_failure_traceback_ends_as_python_prints_it_with_notes(instance: Instance) -> None:
    @solid
    def noted() -> int:
        error = KeyError("customer_id")
        error.add_note("while joining orders to customers")
        raise error

    @pipeline
    def with_note():
        noted()

    result = execute_pipeline(with_note, instance=instance)
    [failure] = [e for e in result.events if e.type is EventType.STEP_FAILURE]
    assert failure.payload["traceback"].endswith(
        "KeyError: 'customer_id'\nwhile joining orders to customers\n"
    )


def test_raise_on_error_carries_the_original_exception(instance: Instance) -> None:
    with pytest.raises(StepFailure) as info:
        execute_pipeline(branching, instance=instance, raise_on_error=True)
    failure = info.value
    assert str(failure) == "solid 'explode' raised ValueError: cannot handle 1"
    assert failure.step == "explode"
    assert isinstance(failure.original, ValueError)
    assert failure.__cause__ is failure.original
    run = instance.get_run(failure.run_id)
    assert run.status is RunStatus.FAILURE
    stored = instance.events(failure.run_id)
    assert [e.step for e in stored if e.type is EventType.STEP_SUCCESS] == ["one", "add"]


def test_undeclared_yielded_output_fails_the_step(instance: Instance) -> None:
    @solid(outs={"a": int, "b": int})
    def partial() -> Iterator[Output]:
        yield Output(1, "a")

    @pipeline
    def incomplete() -> None:
        _a, b = partial()
        double(b)

    result = execute_pipeline(incomplete, instance=instance)
    assert result.result_for("partial").failure_message == (
        "solid 'partial' did not produce output 'b'"
    )
    assert result.result_for("double").skipped


# --- retries ---------------------------------------------------------------------------------


def test_retry_succeeds_on_a_later_attempt(instance: Instance) -> None:
    attempts = []

    @solid(retry=RetryPolicy(max_retries=3, delay=0.001, backoff=2))
    def flaky(context) -> int:
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return len(attempts)

    @pipeline
    def retrying() -> None:
        double(flaky())

    result = execute_pipeline(retrying, instance=instance)
    assert result.success
    assert result.output_for("double") == 6
    assert attempts == [0, 1, 2]
    events = result.result_for("flaky").events
    assert types_of(events) == [
        "STEP_START",
        "STEP_RETRY",
        "STEP_START",
        "STEP_RETRY",
        "STEP_START",
        "STEP_OUTPUT",
        "STEP_SUCCESS",
    ]
    retries = [e.payload for e in events if e.type is EventType.STEP_RETRY]
    assert retries == [
        {
            "attempt": 2,
            "max_attempts": 4,
            "delay": 0.001,
            "message": "ConnectionError: attempt 1 failed",
        },
        {
            "attempt": 3,
            "max_attempts": 4,
            "delay": 0.002,
            "message": "ConnectionError: attempt 2 failed",
        },
    ]
    assert [e.payload["attempt"] for e in events if e.type is EventType.STEP_START] == [1, 2, 3]


def test_retry_gives_up_after_max_retries(instance: Instance) -> None:
    attempts = []

    @solid(retry=RetryPolicy(max_retries=2))
    def broken() -> int:
        attempts.append(1)
        raise RuntimeError(f"failure {len(attempts)}")

    @pipeline
    def failing() -> None:
        double(broken())

    result = execute_pipeline(failing, instance=instance)
    assert len(attempts) == 3
    outcome = result.result_for("broken")
    assert types_of(outcome.events).count("STEP_RETRY") == 2
    assert types_of(outcome.events)[-1] == "STEP_FAILURE"
    assert outcome.failure_message == "solid 'broken' raised RuntimeError: failure 3"
    assert result.result_for("double").skipped


def test_no_retry_policy_means_one_attempt(instance: Instance) -> None:
    attempts = []

    @solid
    def once() -> int:
        attempts.append(1)
        raise RuntimeError("no")

    @pipeline
    def single() -> None:
        once()

    result = execute_pipeline(single, instance=instance)
    assert attempts == [1]
    assert "STEP_RETRY" not in types_of(result.events)


# --- resources -------------------------------------------------------------------------------


def resource_log() -> tuple[list[str], Any, Any]:
    log: list[str] = []

    @resource
    def db(init_context):
        log.append(f"init {init_context.resource_key} {init_context.run_id}")
        yield {"rows": [1, 2, 3]}
        log.append("teardown db")

    @resource
    def unused(init_context):
        log.append("init unused")
        return None

    return log, db, unused


def test_resources_are_created_once_per_run_and_only_when_needed(instance: Instance) -> None:
    log, db, unused = resource_log()

    @solid(required_resource_keys={"db"})
    def first(context) -> int:
        return len(context.resources.db["rows"])

    @solid(required_resource_keys={"db"})
    def second(context, n: int) -> int:
        return n + sum(context.resources.db["rows"])

    @pipeline(modes=[Mode("default", {"db": db, "unused": unused})])
    def sharing() -> None:
        second(first())
        one()

    result = execute_pipeline(sharing, instance=instance)
    assert result.output_for("second") == 9
    assert log == [f"init db {result.run_id}", "teardown db"]
    inits = [e.payload for e in result.events if e.type is EventType.RESOURCE_INIT]
    assert [(p["resource"], p["success"]) for p in inits] == [("db", True)]
    assert types_of(result.events)[-2:] == ["RESOURCE_TEARDOWN", "RUN_SUCCESS"]

    log.clear()
    second_run = execute_pipeline(sharing, instance=instance)
    assert log == [f"init db {second_run.run_id}", "teardown db"]

    log.clear()
    execute_pipeline(sharing, instance=instance, solid_selection="one")
    assert log == []


def test_generator_resource_is_torn_down_when_a_step_fails(instance: Instance) -> None:
    log, db, _ = resource_log()

    @solid(required_resource_keys={"db"})
    def boom(context) -> int:
        log.append("boom")
        raise RuntimeError("step failed")

    @pipeline(modes=[Mode("default", {"db": db})])
    def failing() -> None:
        double(boom())

    result = execute_pipeline(failing, instance=instance)
    assert not result.success
    assert log == [f"init db {result.run_id}", "boom", "teardown db"]
    [teardown] = [e for e in result.events if e.type is EventType.RESOURCE_TEARDOWN]
    assert teardown.payload["success"] is True

    log.clear()
    with pytest.raises(StepFailure):
        execute_pipeline(failing, instance=instance, raise_on_error=True)
    assert log[-1] == "teardown db"


def test_a_failing_resource_ends_the_run_before_a_step_that_needs_it_starts(
    instance: Instance,
) -> None:
    attempts = []

    @resource
    def warehouse(init_context):
        attempts.append(1)
        raise ConnectionError("warehouse is down")

    @solid(required_resource_keys={"warehouse"})
    def query(context) -> int:
        return 1

    @solid(required_resource_keys={"warehouse"})
    def query_again(context) -> int:
        return 2

    @pipeline(modes=[Mode("default", {"warehouse": warehouse})])
    def querying() -> None:
        one()
        double(query())
        query_again()
        one.alias("later")()  # independent, but the run has ended before it starts

    result = execute_pipeline(querying, instance=instance)
    message = "resource 'warehouse' failed to initialise: ConnectionError: warehouse is down"
    assert not result.success
    assert attempts == [1]
    assert result.output_for("one") == 1  # it ran before the resource was needed
    assert [e.step for e in result.events if e.type is EventType.STEP_START] == ["one"]
    [init] = [e for e in result.events if e.type is EventType.RESOURCE_INIT]
    assert init.step is None  # a run-level event naming the resource
    assert init.payload["resource"] == "warehouse" and init.payload["success"] is False
    assert init.payload["message"] == message
    skipped = {e.step: e.message for e in result.events if e.type is EventType.STEP_SKIPPED}
    not_run = ("query", "double", "query_again", "later")
    assert skipped == {step: f"not run: {message}" for step in not_run}
    assert not [e for e in result.events if e.type is EventType.STEP_FAILURE]
    assert result.result_for("query").failure_message == message
    assert result.events[-1].type is EventType.RUN_FAILURE
    assert result.events[-1].message == message

    with pytest.raises(StepFailure) as info:
        execute_pipeline(querying, instance=instance, raise_on_error=True)
    assert isinstance(info.value.original, ConnectionError)
    assert info.value.__cause__ is info.value.original


def test_teardown_failure_fails_the_run(instance: Instance) -> None:
    @resource
    def leaky(init_context):
        yield 5
        raise OSError("could not close")

    @solid(required_resource_keys={"leaky"})
    def use(context) -> int:
        return context.resources.leaky

    @pipeline(modes=[Mode("default", {"leaky": leaky})])
    def leaking() -> None:
        use()

    result = execute_pipeline(leaking, instance=instance)
    message = "resource 'leaky' teardown failed: OSError: could not close"
    assert not result.success
    assert result.result_for("use").success
    assert result.output_for("use") == 5
    assert result.events[-1].type is EventType.RUN_FAILURE
    assert result.events[-1].message == message
    assert instance.get_run(result.run_id).status is RunStatus.FAILURE

    with pytest.raises(StepFailure) as info:
        execute_pipeline(leaking, instance=instance, raise_on_error=True)
    assert str(info.value) == message
    assert info.value.step is None


def test_mode_selects_the_resources(instance: Instance) -> None:
    @solid(required_resource_keys={"source"})
    def read(context) -> str:
        return context.resources.source

    @pipeline(modes=[Mode("local", {"source": "local file"}), Mode("prod", {"source": "s3"})])
    def reading() -> None:
        read()

    assert execute_pipeline(reading, mode="local", instance=instance).output_for("read") == (
        "local file"
    )
    result = execute_pipeline(reading, mode="prod", instance=instance)
    assert result.output_for("read") == "s3"
    assert instance.get_run(result.run_id).mode == "prod"


def test_undeclared_resource_access_explains_itself(instance: Instance) -> None:
    @solid(required_resource_keys={"a"})
    def sneaky(context) -> int:
        return context.resources.b

    @pipeline(modes=[Mode("default", {"a": 1, "b": 2})])
    def sneaking() -> None:
        sneaky()

    result = execute_pipeline(sneaking, instance=instance)
    assert result.result_for("sneaky").failure_message == (
        "solid 'sneaky' raised AttributeError: solid 'sneaky' has no resource 'b'; declare it "
        "with required_resource_keys={'b'} (available: a)"
    )


# --- selection -------------------------------------------------------------------------------


@pytest.fixture
def etl() -> tuple[Any, list[str]]:
    """extract -> transform -> load_rows, and audit on its own; the list records what ran."""
    ran: list[str] = []

    @solid
    def extract() -> list[int]:
        ran.append("extract")
        return [1, 2, 3]

    @solid
    def transform(rows: list[int]) -> list[int]:
        ran.append("transform")
        return [row * 10 for row in rows]

    @solid
    def load_rows(rows: list[int]) -> int:
        ran.append("load_rows")
        return sum(rows)

    @solid
    def audit() -> str:
        ran.append("audit")
        return "ok"

    @pipeline
    def etl_pipeline() -> None:
        load_rows(transform(extract()))
        audit()

    return etl_pipeline, ran


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("load_rows", {"load_rows"}),
        ("*load_rows", {"extract", "transform", "load_rows"}),
        ("+load_rows", {"transform", "load_rows"}),
        ("transform+", {"transform", "load_rows"}),
        ("extract*", {"extract", "transform", "load_rows"}),
        ("transform,audit", {"transform", "audit"}),
        (["audit", "+load_rows"], {"audit", "transform", "load_rows"}),
    ],
)
def test_selection_runs_only_the_selected_steps(
    instance: Instance, etl: tuple[Any, list[str]], selection: Any, expected: set[str]
) -> None:
    etl_pipeline, ran = etl
    run_config: dict[str, Any] = {"solids": {}}
    if "extract" not in expected and "transform" in expected:
        run_config["solids"]["transform"] = {"inputs": {"rows": [5]}}
    if "transform" not in expected and "load_rows" in expected:
        run_config["solids"]["load_rows"] = {"inputs": {"rows": [7, 8]}}
    result = execute_pipeline(
        etl_pipeline, run_config, solid_selection=selection, instance=instance
    )
    assert result.success
    assert set(ran) == expected
    assert set(result.events[0].payload["steps"]) == expected


def test_selected_solid_takes_unselected_upstream_input_from_run_config(
    instance: Instance, etl: tuple[Any, list[str]]
) -> None:
    etl_pipeline, ran = etl
    result = execute_pipeline(
        etl_pipeline,
        {"solids": {"transform": {"inputs": {"rows": [4, 5]}}}},
        solid_selection="transform*",
        instance=instance,
    )
    assert ran == ["transform", "load_rows"]
    assert result.output_for("load_rows") == 90
    with pytest.raises(KeyError, match="has no solid 'extract'"):
        result.output_for("extract")


def test_missing_input_for_unselected_upstream_fails_before_running(
    instance: Instance, etl: tuple[Any, list[str]]
) -> None:
    etl_pipeline, ran = etl
    with pytest.raises(ConfigError) as info:
        execute_pipeline(etl_pipeline, solid_selection="load_rows", instance=instance)
    assert info.value.errors == [
        (
            "solids.load_rows.inputs.rows",
            "Field required (upstream solid 'transform' is not selected, so give the value here)",
        )
    ]
    assert ran == []


# --- runs that fail before they start --------------------------------------------------------


def test_config_error_is_recorded_as_a_failed_run(instance: Instance) -> None:
    class Needed(Config):
        value: int

    calls = []

    @solid
    def configured(config: Needed) -> int:
        calls.append(1)
        return config.value

    @pipeline
    def needs_config() -> None:
        configured()

    with pytest.raises(ConfigError) as info:
        execute_pipeline(needs_config, {"solids": {}}, instance=instance, tags={"k": "v"})
    run_id = info.value.run_id
    assert calls == []
    run = instance.get_run(run_id)
    assert run.status is RunStatus.FAILURE
    assert run.end_time is not None
    assert run.tags == {"k": "v"}
    assert run.run_config == {"solids": {}}
    [event] = instance.events(run_id)
    assert event.type is EventType.RUN_FAILURE
    assert "solids.configured.config.value: Field required" in event.message
    assert [r.run_id for r in instance.runs(RunStatus.FAILURE)] == [run_id]


def test_selection_error_is_recorded_as_a_failed_run(
    instance: Instance, etl: tuple[Any, list[str]]
) -> None:
    with pytest.raises(SelectionError) as info:
        execute_pipeline(etl[0], solid_selection="transfrom", instance=instance)
    assert "no solid named 'transfrom'" in str(info.value)
    assert "did you mean 'transform'" in str(info.value)
    run_id = info.value.run_id
    assert instance.get_run(run_id).status is RunStatus.FAILURE
    assert types_of(instance.events(run_id)) == ["RUN_FAILURE"]
