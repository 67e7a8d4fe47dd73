"""A pipeline whose source is a file that no data_version reports (an outside change only a
run without memoization sees), and the runs that once served a stale mix from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore


class SourceConfig(Config):
    path: str


@solid
def read_source(config: SourceConfig) -> pa.Table:
    return pa.table({"v": [int(word) for word in Path(config.path).read_text().split()]})


@solid
def source_total(table: pa.Table) -> int:
    return sum(table.column("v").to_pylist())


@pipeline
def outside_source():
    source_total(read_source())


def check_that_an_outside_change_is_served(
    run_config: dict[str, Any], instance: Instance, source: Path
) -> None:
    """A memoized run over `1 2 3`; the source's stored table lost (say, to gc); the file
    changed to `10 20 30 40`; a run without memoization, then a memoized one. Both must give
    the new data (4 rows, total 100), the last one from the store: before, it took the new
    table that the second run stored where none was, with the old total that it kept."""
    source.write_text("1 2 3")
    config = {**run_config, "solids": {"read_source": {"config": {"path": str(source)}}}}
    first = execute_pipeline(outside_source, config, instance=instance, memoize=True)
    assert first.success and first.output_for("source_total") == 6
    table_key = next(
        event.payload["key"]
        for event in first.events
        if event.type is EventType.STEP_OUTPUT and event.step == "read_source"
    )
    store = IntermediateStore(instance.config.storage.root)
    assert store.delete(table_key) > 0
    store.close()
    source.write_text("10 20 30 40")
    fresh = execute_pipeline(outside_source, config, instance=instance, memoize=False)
    later = execute_pipeline(outside_source, config, instance=instance, memoize=True)
    assert fresh.output_for("source_total") == 100
    memoized = {e.step for e in later.events if e.type is EventType.STEP_MEMOIZED}
    assert memoized == {"read_source", "source_total"}
    assert later.output_for("read_source").num_rows == 4
    assert later.output_for("source_total") == 100  # not the total the first run stored
