"""Fixtures of the unit tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.user_code import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A Project in the test's directory (no bytecode caches: edits within the same second
    must be seen)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = tmp_path / "project"
    monkeypatch.syspath_prepend(str(root))
    made = Project(root)
    yield made
    made.forget()
