"""Memoized runs: corrupt outputs, modes and resources, values that cannot be fingerprinted.

(Random edits of random pipelines: test_memo_edits.py.)"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from solidflow import Config, Instance, Mode, execute_pipeline, pipeline, resource, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore


def _executed(result) -> set[str]:
    return {e.step for e in result.events if e.type is EventType.STEP_SUCCESS}


def test_a_corrupt_stored_output_is_recomputed_with_a_warning(tmp_path):
    @solid
    def table() -> pa.Table:
        return pa.table({"x": list(range(1000))})

    @solid
    def rows(t: pa.Table) -> int:
        return t.num_rows

    @pipeline
    def tables():
        rows(table())

    instance = Instance(tmp_path)
    first = execute_pipeline(tables, instance=instance, memoize=True)
    [key] = [e.payload["key"] for e in first.events if e.step == "table" and "key" in e.payload]
    [data] = list(Path(instance.config.storage.root).rglob(f"{key}.arrow"))
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    data.write_bytes(bytes(damaged))

    second = execute_pipeline(tables, instance=instance, memoize=True)
    assert _executed(second) == {"table"}
    [warning] = [e for e in second.events if e.type is EventType.LOG and e.step == "table"]
    assert f"stored output 'result' of step 'table' ({key}) is corrupt" in warning.message
    assert second.output_for("table").equals(pa.table({"x": list(range(1000))}))


def test_only_steps_whose_outputs_are_not_stored_skip_looking_before_storing(tmp_path, monkeypatch):
    @solid(version="1")
    def first() -> int:
        return 1

    def build(version: str):
        @solid(name="second", version=version)
        def second(x: int) -> int:
            return x + 1

        @pipeline(name="pair")
        def pair():
            second(first())

        return pair

    told: dict[str, bool] = {}
    put = IntermediateStore.put

    def recording_put(self, key, value, *, step, known_missing=False, **where):
        told[step] = known_missing
        return put(self, key, value, step=step, known_missing=known_missing, **where)

    monkeypatch.setattr(IntermediateStore, "put", recording_put)
    instance = Instance(tmp_path)
    execute_pipeline(build("1"), instance=instance)
    assert told == {"first": True, "second": True}
    told.clear()
    rerun = execute_pipeline(build("2"), instance=instance)
    assert told == {"first": False, "second": True}
    assert rerun.output_for("second") == 2
    told.clear()
    execute_pipeline(build("3"), instance=instance, memoize=True)
    assert told == {"second": True}


class Scale(Config):
    factor: int = 1


@resource(config=Scale)
def scaled_warehouse(init_context):
    return init_context.config.factor


@resource
def dev_warehouse(init_context):
    return 100


def _shop_pipeline():
    @solid
    def orders() -> list:
        return [10, 20, 30]

    @solid(required_resource_keys={"warehouse"})
    def expensive(context, values: list) -> int:
        return sum(1 for value in values if value * context.resources.warehouse > 15)

    @solid(required_resource_keys={"clock"})
    def stamped(context, values: list) -> int:
        return len(values) + context.resources.clock

    @pipeline(
        modes=[
            Mode("prod", resources={"warehouse": scaled_warehouse, "clock": 1}),
            Mode("dev", resources={"warehouse": dev_warehouse, "clock": 1}),
        ]
    )
    def shop():
        values = orders()
        expensive(values)
        stamped(values)

    return shop


def test_mode_switches_and_resource_config_rerun_exactly_the_steps_that_use_them(tmp_path):
    shop = _shop_pipeline()
    instance = Instance(tmp_path)

    def run(mode: str, factor: int = 1):
        config = (
            {"resources": {"warehouse": {"config": {"factor": factor}}}} if mode == "prod" else {}
        )
        return execute_pipeline(shop, config, mode=mode, instance=instance, memoize=True)

    first = run("prod")
    assert _executed(first) == {"orders", "expensive", "stamped"}
    assert first.output_for("expensive") == 2
    dev = run("dev")
    assert _executed(dev) == {"expensive"} and dev.output_for("expensive") == 3
    assert _executed(run("prod")) == set()  # back to prod: its outputs are stored
    changed = run("prod", factor=2)
    assert _executed(changed) == {"expensive"} and changed.output_for("expensive") == 3


def test_a_value_that_cannot_be_fingerprinted_is_named_once_and_its_steps_always_run(
    tmp_path, project
):
    project.write(
        "locked",
        """
        import threading
        from solidflow import pipeline, solid

        LOCK = threading.Lock()

        @solid
        def guarded() -> int:
            with LOCK:
                return 1

        @solid
        def also_guarded(x: int) -> int:
            with LOCK:
                return x + 1

        @solid(version="1")
        def declared(x: int) -> int:
            with LOCK:
                return x

        @pipeline
        def locked():
            declared(also_guarded(guarded()))
        """,
    )
    locked = project.load("locked").locked
    instance = Instance(tmp_path / "home")
    execute_pipeline(locked, instance=instance, memoize=True)
    again = execute_pipeline(locked, instance=instance, memoize=True)
    assert _executed(again) == {"guarded", "also_guarded", "declared"}
    [warning] = [e for e in again.events if e.type is EventType.LOG]
    assert warning.step is None
    assert warning.message.startswith(
        "locked.LOCK (_thread.lock) cannot be fingerprinted, so the memo key of steps "
        "guarded, also_guarded never matches"
    )
    assert "declare version=" in warning.message


def test_an_edit_of_the_type_loader_that_builds_an_input_reruns_its_step(tmp_path, project):
    project.write(
        "loaded",
        """
        from solidflow import Config, DataType, pipeline, solid, type_loader

        class Numbers(Config):
            count: int

        @type_loader(Numbers)
        def numbers(context, config):
            return list(range(config.count))

        NumberList = DataType("NumberList", lambda value: isinstance(value, list), loader=numbers)

        @solid
        def total(values: NumberList) -> int:
            return sum(values)

        @pipeline
        def loaded():
            total()
        """,
    )
    run_config = {"solids": {"total": {"inputs": {"values": {"count": 4}}}}}
    instance = Instance(tmp_path / "home")

    def run():
        pipeline_ = project.load("loaded").loaded
        return execute_pipeline(pipeline_, run_config, instance=instance, memoize=True)

    assert run().output_for("total") == 6
    assert _executed(run()) == set()
    project.edit("loaded", "range(config.count)", "range(1, config.count + 1)")
    edited = run()
    assert _executed(edited) == {"total"} and edited.output_for("total") == 10
