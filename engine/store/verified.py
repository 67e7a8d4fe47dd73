"""Verified markers: local data whose full checksum matched its sidecar is not hashed again
until it changes.

The marker `<key>.verified` beside the data (a file, or a dataset directory) records the
identity of each data file (inode, size, modification and change times in nanoseconds) and
the full checksum the data matched. Any write to a file changes its change time, and a new
file has another inode, so a marker never vouches for data it did not see. Markers are
written atomically and best-effort: where they cannot be written (a read-only store), every
load verifies the whole data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Any

import msgpack

MARKER_SUFFIX = ".verified"
_VERSION = 1


def _identity(path: str) -> list[int]:
    stat = os.stat(path)
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def data_identity(path: str) -> list[Any]:
    """What tells the data file (or every file of the directory) at `path` apart from any
    other, or from itself after a change."""
    if not os.path.isdir(path):
        return _identity(path)
    found = []
    for directory, _, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            found.append([os.path.relpath(full, path), *_identity(full)])
    return sorted(found)


def marker_path(data_path: str) -> str:
    """The verified marker of the data at `data_path`."""
    return os.path.splitext(data_path)[0] + MARKER_SUFFIX


def is_verified(data_path: str, full_checksum: str) -> bool:
    """Whether the data was verified against `full_checksum` since it last changed."""
    try:
        with open(marker_path(data_path), "rb") as file:
            marker: object = msgpack.unpackb(file.read())
        identity = data_identity(data_path)
    except (OSError, ValueError, msgpack.UnpackException):
        return False
    return marker == [_VERSION, identity, full_checksum]


def mark_verified(data_path: str, full_checksum: str) -> None:
    """Record that the data, as it is now, matches `full_checksum`."""
    path = marker_path(data_path)
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
    with contextlib.suppress(OSError):
        marker = msgpack.packb([_VERSION, data_identity(data_path), full_checksum])
        try:
            with open(temporary, "xb") as file:
                file.write(marker)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
