"""Memoized runs execute exactly the edited solids and their descendants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore


class Offset(Config):
    k: int = 0


def _node_solid(name: str, has_inputs: bool, version: int, data_versions: dict[str, str]):
    def data_version(context) -> str:
        return data_versions[context.solid_name]

    if has_inputs:

        def combine(values: list[int], config: Offset) -> int:
            return sum(values) + config.k

        fn = combine
    else:

        def source(config: Offset) -> int:
            return config.k + 1

        fn = source
    return solid(name=name, version=str(version), data_version=data_version)(fn)


def _build(parents: list[list[int]], versions: list[int], data_versions: dict[str, str]):
    definitions = [
        _node_solid(f"n{i}", bool(parents[i]), versions[i], data_versions)
        for i in range(len(parents))
    ]

    @pipeline(name="random_dag")
    def dag() -> None:
        handles: list[Any] = []
        for i, definition in enumerate(definitions):
            if parents[i]:
                handles.append(definition([handles[p] for p in parents[i]]))
            else:
                handles.append(definition())

    return dag


def _descendants(parents: list[list[int]], edited: set[int]) -> set[int]:
    affected = set(edited)
    for i in range(len(parents)):  # parents always come first
        if any(p in affected for p in parents[i]):
            affected.add(i)
    return affected


def _expected_values(parents: list[list[int]], offsets: list[int]) -> list[int]:
    values: list[int] = []
    for i, ps in enumerate(parents):
        values.append(sum(values[p] for p in ps) + offsets[i] if ps else offsets[i] + 1)
    return values


@st.composite
def dags_and_edits(draw: st.DrawFn):
    size = draw(st.integers(min_value=1, max_value=8))
    parents = [
        sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(size)
    ]
    edits = draw(
        st.dictionaries(
            st.integers(0, size - 1), st.sampled_from(["code", "config", "data"]), max_size=size
        )
    )
    return parents, edits


def _executed(result) -> set[str]:
    return {e.step for e in result.events if e.type is EventType.STEP_SUCCESS}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=dags_and_edits())
def test_exactly_edited_solids_and_their_descendants_run(tmp_path_factory, case):
    parents, edits = case
    instance = Instance(tmp_path_factory.mktemp("home"))
    size = len(parents)
    versions = [1] * size
    offsets = [0] * size
    data_versions = {f"n{i}": "v1" for i in range(size)}

    def run():
        config = {"solids": {f"n{i}": {"config": {"k": offsets[i]}} for i in range(size)}}
        return execute_pipeline(
            _build(parents, versions, data_versions), config, instance=instance, memoize=True
        )

    first = run()
    assert first.success and _executed(first) == {f"n{i}" for i in range(size)}
    unchanged = run()
    assert _executed(unchanged) == set()
    assert {e.step for e in unchanged.events if e.type is EventType.STEP_MEMOIZED} == {
        f"n{i}" for i in range(size)
    }

    for node, kind in edits.items():
        if kind == "code":
            versions[node] += 1
        elif kind == "config":
            offsets[node] += 1
        else:
            data_versions[f"n{node}"] = "v2"
    edited_run = run()
    assert edited_run.success
    assert _executed(edited_run) == {f"n{i}" for i in _descendants(parents, set(edits))}
    expected = _expected_values(parents, offsets)
    for i in range(size):  # memoized or not, every output has its current value
        assert edited_run.output_for(f"n{i}") == expected[i]


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
