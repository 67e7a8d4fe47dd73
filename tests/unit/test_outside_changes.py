"""A run without memoization after an outside change: what it computed replaces what was
stored, so that a later memoized run never mixes new and old outputs (in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from solidflow import Instance
from tests.outside_source import check_that_an_outside_change_is_served


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    with Instance(tmp_path / "home") as opened:
        yield opened


def test_a_later_memoized_run_serves_what_the_run_without_memoization_computed(
    instance: Instance, tmp_path: Path
) -> None:
    check_that_an_outside_change_is_served({}, instance, tmp_path / "source.txt")
