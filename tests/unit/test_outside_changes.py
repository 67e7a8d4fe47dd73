"""A run without memoization after an outside change: what it computed replaces what was
stored, so that a later memoized run never mixes new and old outputs (in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from solidflow import Instance
from solidflow.engine.events.records import EventType
from tests.outside_source import runs_after_an_outside_change


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    with Instance(tmp_path / "home") as opened:
        yield opened


def test_a_later_memoized_run_serves_what_the_run_without_memoization_computed(
    instance: Instance, tmp_path: Path
) -> None:
    fresh, later = runs_after_an_outside_change({}, instance, tmp_path / "source.txt")
    assert fresh.output_for("source_total") == 100
    assert {e.step for e in later.events if e.type is EventType.STEP_MEMOIZED} == {
        "read_source",
        "source_total",
    }
    assert later.output_for("read_source").num_rows == 4
    assert later.output_for("source_total") == 100
