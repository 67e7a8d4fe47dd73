"""Files of the local store: written under a temporary name that the writing process holds a
lock on, synced, and the temporary names a killed writer left behind reclaimed.

A temporary file is locked (flock) by its writer from its creation until it is renamed into
place or removed, and a temporary directory (a Parquet dataset being written by another
engine) through a `<name>.lock` file beside it. The operating system releases those locks
when the writer dies, so a temporary name nobody holds belongs to a killed write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from solidflow.engine.store.records import HashingSink

TEMPORARY_SUFFIX = ".tmp"
_OWNER_SUFFIX = ".tmp.lock"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reclaimed:
    """A temporary file or directory of a killed write, removed (or to remove)."""

    path: str
    bytes: int


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def hold_temporary(path: str) -> int:
    """A new file at `path`, open for writing and locked by this process until
    `release_temporary`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_temporary(fd: int, path: str) -> None:
    """Close a file `hold_temporary` opened, and remove it unless it was renamed."""
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def temporary_file(path: str) -> Iterator[int]:
    """A new file at `path`, open for writing and locked by this process until the block
    ends; removed then unless the block renamed it."""
    fd = hold_temporary(path)
    try:
        yield fd
    finally:
        release_temporary(fd, path)


@contextlib.contextmanager
def owning(path: str) -> Iterator[None]:
    """Hold `path` (a temporary directory that others write into) as this process's until
    the block ends, through a locked `<path>.lock` beside it."""
    with temporary_file(f"{path}.lock"):
        yield


def write_synced(
    fd: int, size: int, write: Callable[[HashingSink], object], sync: bool = True
) -> tuple[str, str]:
    """Write the `size` bytes that `write` writes to a sink into the open file `fd`, sync it
    (unless `sync` is false), and return their sampled and full checksums."""
    with HashingSink(size, lambda view: _write_all(fd, view)) as sink:
        write(sink)
        if sync:
            os.fsync(fd)
        return sink.finish()


def read_whole(path: str, mutable: bool) -> bytes | bytearray:
    """The content of the file at `path`, read into one buffer of its size: bytes, or a
    bytearray when `mutable`."""
    with open(path, "rb", buffering=0) as file:
        if not mutable:
            return file.readall()  # sized from the file: one allocation, no copy
        data = bytearray(os.fstat(file.fileno()).st_size)
        view, filled = memoryview(data), 0
        while filled < len(data) and (count := file.readinto(view[filled:])):
            filled += count
        view.release()
        if filled < len(data):  # it shrank meanwhile: the checksums will say so
            del data[filled:]
        return data


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(path: str) -> int:
    if not os.path.isdir(path):
        return os.stat(path).st_size
    return sum(
        os.stat(os.path.join(directory, name)).st_size
        for directory, _, names in os.walk(path)
        for name in names
    )


@contextlib.contextmanager
def _unless_held(lock_path: str, missing: bool) -> Iterator[bool]:
    """Whether no live process holds the lock of `lock_path` (`missing` if there is no such
    file); when none does, this process holds it through the block."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        yield missing
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def reclaim_temporary(root: str, before: float, dry_run: bool) -> list[Reclaimed]:
    """Remove (unless `dry_run`) the temporary files and directories under the store `root`
    that no live process holds and that last changed before `before` (seconds since the
    epoch), with the lock files of temporary directories; return what was (or would be)
    removed."""
    reclaimed = []
    for directory in os.scandir(root):
        if not directory.is_dir() or len(directory.name) != 2:
            continue
        for entry in os.scandir(directory.path):
            name = entry.name
            if not name.startswith(".") or not name.endswith((TEMPORARY_SUFFIX, _OWNER_SUFFIX)):
                continue
            is_directory = entry.is_dir()
            if name.endswith(_OWNER_SUFFIX) and os.path.exists(entry.path.removesuffix(".lock")):
                continue  # reclaimed with its directory
            try:
                if entry.stat().st_mtime >= before:
                    continue
                size = _size(entry.path)
            except FileNotFoundError:
                continue  # renamed or removed meanwhile
            # A file is its own lock; a directory has one beside it (if its writer made it).
            owner = f"{entry.path}.lock" if is_directory else entry.path
            with _unless_held(owner, missing=is_directory) as unheld:
                if not unheld:
                    continue  # a live write
                if not dry_run:
                    _remove(entry.path)
                    if is_directory:
                        _remove(owner)
            reclaimed.append(Reclaimed(path=entry.path, bytes=size))
    return reclaimed
