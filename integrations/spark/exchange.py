"""The files through which a solid launched with spark-submit and the process that launched
it talk: the task going in, events streaming out, the result coming back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import cloudpickle
import msgpack

TASK, EVENTS, RESULT, DRIVER_LOG = "task.pkl", "events.msgpack", "result.pkl", "driver.log"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees part of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def dump(path: Path, value: Any) -> None:
    write_atomically(path, cloudpickle.dumps(value))


def load(path: Path) -> Any:
    return cloudpickle.loads(path.read_bytes())


class EventWriter:
    """Appends events, one msgpack record each, flushed as they are written."""

    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 - closed by close()

    def write(self, event_type: str, step: str | None, payload: dict[str, Any]) -> None:
        self._file.write(msgpack.packb([event_type, step, payload], use_bin_type=True))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class EventReader:
    """Reads the events appended to a file so far, again and again as it grows."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._unpacker = msgpack.Unpacker(raw=False)

    def new_events(self) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        try:
            with open(self._path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        self._unpacker.feed(data)
        for record in self._unpacker:
            event_type, step, payload = record
            yield event_type, step, payload
