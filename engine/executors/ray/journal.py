"""A step worker's journal: the start of each step and the events its code emits (log lines,
materializations, expectations), appended to a file on the worker's node as they happen, so
that they outlive a worker that dies before its batch returns. Another worker on the same
node reads a dead worker's journal; nothing reads it otherwise."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import msgpack

DIRECTORY = os.path.join(tempfile.gettempdir(), f"solidflow-journals-{os.getuid()}")


def journal_path(pid: int) -> str:
    return os.path.join(DIRECTORY, f"{pid}.journal")


class Journal:
    """The journal of this process: one unbuffered append per record, no sync (the records
    must outlive the process, not the node)."""

    def __init__(self) -> None:
        os.makedirs(DIRECTORY, exist_ok=True)
        self._fd = os.open(
            journal_path(os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600
        )

    def write(self, run_id: str, running: tuple[str, int] | None, event: list[Any]) -> None:
        """Record an event of the step `running` ([step, attempt]) of run `run_id`."""
        if running is not None:
            os.write(self._fd, msgpack.packb([run_id, running[0], running[1], event]))

    def clear(self) -> None:
        """Forget what was recorded (no run is under way in this process)."""
        os.ftruncate(self._fd, 0)


def read_journal(pid: int, run_id: str) -> dict[tuple[str, int], list[list[Any]]]:
    """The events recorded by the (dead) process `pid` for run `run_id`, by (step, attempt);
    the journal is removed."""
    path = journal_path(pid)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return {}
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    found: dict[tuple[str, int], list[list[Any]]] = {}
    for record_run, step, attempt, event in _records(data):
        if record_run == run_id:
            found.setdefault((step, attempt), []).append(event)
    return found


def _records(data: bytes) -> list[list[Any]]:
    """The whole records in `data` (the last may be cut short by the process's death)."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    records = []
    with contextlib.suppress(ValueError, msgpack.OutOfData):
        records.extend(unpacker)
    return records
