"""Opening the SQLite databases that several processes share (event log, packed outputs)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
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
    path: str | os.PathLike[str], setup: Callable[[sqlite3.Connection], None]
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
            conn.execute("PRAGMA synchronous = NORMAL")
            setup(conn)
        except BaseException:
            conn.close()
            raise
    return conn


class SharedDatabase:
    """This process's connection to a database file that several processes share: opened on
    first use, and again in a forked child (the parent's connection is kept, never closed or
    used there). Threads share it: hold `lock()` while using `connection()`.

    Args:
        path: the database file.
        setup: run on each new connection (schema creation), see `open_shared_database`.
        on_fork: run in a forked child before it uses the database, to drop state of the
            parent's that goes with the connection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        setup: Callable[[sqlite3.Connection], None],
        on_fork: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self._setup = setup
        self._on_fork = on_fork
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []

    def lock(self) -> threading.Lock:
        """The lock to hold while using the connection (a new one after a fork)."""
        if self._pid != os.getpid():
            if self._conn is not None:
                self._inherited.append(self._conn)
            self._conn = None
            self._lock = threading.Lock()
            self._pid = os.getpid()
            self._on_fork()
        return self._lock

    @property
    def opened(self) -> bool:
        """Whether this process has its connection open."""
        return self._conn is not None

    def connection(self) -> sqlite3.Connection:
        """The connection, opened (in WAL mode, after `setup`) on first use. Hold the lock."""
        if self._conn is None:
            self._conn = open_shared_database(self.path, self._setup)
        return self._conn

    def close(self) -> None:
        """Close this process's connection; the next use opens a new one."""
        with self.lock():
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on `conn`, which waits for other writers first; committed at the
    end of the block, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
