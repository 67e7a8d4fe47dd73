"""Opening the SQLite databases that several processes share (event log, packed outputs)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator

BUSY_TIMEOUT_MS = 30_000


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive lock, between processes and threads, held through `directory/.lock`."""
    fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def open_shared_database(
    path: str | os.PathLike[str], synchronous: str, setup: Callable[[sqlite3.Connection], None]
) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers, after `setup` (schema creation).

    Two processes switching a new database to WAL at the same moment can fail at once instead
    of waiting, so connections are set up one process at a time, under a lock file beside it.
    """
    directory = os.path.dirname(os.fspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    with directory_lock(directory):
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            setup(conn)
        except BaseException:
            conn.close()
            raise
    return conn
