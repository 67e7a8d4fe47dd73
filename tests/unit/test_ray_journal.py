"""A step worker's journal outlives the worker: what it recorded is read back by run and step."""

from __future__ import annotations

import os

import pytest

from solidflow.engine.executors.ray import journal

pytestmark = pytest.mark.ray


def test_records_are_read_back_by_step_attempt_and_the_journal_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "DIRECTORY", str(tmp_path))
    written = journal.Journal()
    written.write("r1", ("a", 1), ["STEP_START", "a", b"x", 1.0])
    written.write("r1", ("a", 1), ["LOG", "a", b"y", 2.0])
    written.write("r2", ("b", 2), ["STEP_START", "b", b"z", 3.0])
    written.write("r1", None, ["LOG", None, b"w", 4.0])  # no step running: not recorded
    with open(journal.journal_path(os.getpid()), "ab") as file:
        file.write(b"\x94\xa2r1")  # a record cut short by the process's death
    found = journal.read_journal(os.getpid(), "r1")
    assert found == {("a", 1): [["STEP_START", "a", b"x", 1.0], ["LOG", "a", b"y", 2.0]]}
    assert journal.read_journal(os.getpid(), "r1") == {}  # read once, then removed
