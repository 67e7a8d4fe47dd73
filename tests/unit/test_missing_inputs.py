"""A stored input that is gone or damaged when a step loads it fails that step, naming the
input and the key; the run ends as a failure, not as an engine error."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.store import IntermediateStore


class Tag(Config):
    value: str = "a"


def _pipeline(damage):
    @solid
    def table() -> pa.Table:
        return pa.table({"x": list(range(1000))})

    @solid
    def other(config: Tag) -> str:
        damage()  # runs after the run found `table` memoized, before `rows` loads it
        return config.value

    @solid
    def rows(t: pa.Table, label: str) -> str:
        return f"{label}: {t.num_rows}"

    @pipeline(name="inputs_vanish")
    def inputs_vanish():
        rows(table(), other())

    return inputs_vanish


def _table_key(result) -> str:
    [key] = [e.payload["key"] for e in result.events if e.step == "table" and "key" in e.payload]
    return key


@pytest.mark.parametrize("how", ["deleted", "damaged"])
def test_a_memoized_input_lost_before_it_loads_fails_its_step(tmp_path: Path, how: str) -> None:
    instance = Instance(tmp_path)
    actions = []
    definition = _pipeline(lambda: [action() for action in actions])
    first = execute_pipeline(definition, instance=instance, memoize=True)
    assert first.success
    key = _table_key(first)
    store = IntermediateStore(instance.config.storage.root)
    [data] = list(Path(instance.config.storage.root).rglob(f"{key}.arrow"))

    def lose() -> None:
        if how == "deleted":
            store.delete(key)
        else:
            damaged = bytearray(data.read_bytes())
            damaged[100] ^= 0xFF
            data.write_bytes(bytes(damaged))

    actions.append(lose)
    second = execute_pipeline(
        definition,
        run_config={"solids": {"other": {"config": {"value": "b"}}}},
        instance=instance,
        memoize=True,
    )
    store.close()
    assert not second.success
    assert instance.get_run(second.run_id).status is RunStatus.FAILURE
    [failure] = [e for e in second.events if e.type is EventType.STEP_FAILURE]
    assert failure.step == "rows"
    message = failure.payload["message"]
    assert "input 't'" in message and "output 'result' of step 'table'" in message
    assert key in message, message
    assert ("missing" if how == "deleted" else "corrupt") in message
    [end] = [e for e in second.events if e.type is EventType.RUN_FAILURE]
    assert "engine error" not in end.payload["message"]
    assert end.payload["failed_steps"] == ["rows"]
