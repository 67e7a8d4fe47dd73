"""Opening the SQLite databases that several processes share (event log, packed outputs)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_DAMAGE_MESSAGES = ("database disk image is malformed", "file is not a database")


_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _code(error: sqlite3.Error) -> int | None:
    """The primary SQLite result code of `error` (Python 3.11 and later), else None."""
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether `error` says that the database file itself is damaged."""
    code = _code(error)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return any(message in str(error) for message in _DAMAGE_MESSAGES)


def is_full(error: BaseException) -> bool:
    """Whether `error` says that the disk (or the file size limit) is full."""
    if isinstance(error, OSError):
        return error.errno in _FULL_ERRNOS
    if isinstance(error, sqlite3.Error):
        code = _code(error)
        return code == _SQLITE_FULL if code is not None else "is full" in str(error)
    return False


def is_read_only(error: BaseException) -> bool:
    """Whether `error` says that a file may not be written (read-only database or file
    system, or no permission)."""
    if isinstance(error, OSError):
        return error.errno in _READ_ONLY_ERRNOS
    if isinstance(error, sqlite3.Error):
        code = _code(error)
        return code == _SQLITE_READONLY if code is not None else "readonly" in str(error)
    return False


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """The device and inode of the file at `path`, None if there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _directory_of(path: str | os.PathLike[str]) -> str:
    directory = os.path.dirname(os.fspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    return directory


def writable(path: str | os.PathLike[str]) -> bool:
    """Whether this process may write the database file at `path` and create files beside it
    (its WAL and lock files, or the file itself and the directories above it)."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return False
    directory = os.path.dirname(path)
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    return os.access(directory, os.W_OK)


def _connect_read_only(
    path: str | os.PathLike[str], setup: Callable[[sqlite3.Connection], object]
) -> sqlite3.Connection:
    """A connection that can only read the database at `path` (in a directory this process
    cannot write): through its WAL files when they exist, else of the file alone (SQLite's
    "immutable": with no WAL files, no writer is at work), else an empty database (after
    `setup`) when there is no file."""
    if not os.path.exists(path):
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        setup(conn)
    else:
        uri = Path(path).absolute().as_uri()
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.OperationalError:  # the WAL files are missing and cannot be created
            conn.close()
            conn = sqlite3.connect(
                f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
            )
        setup(conn)  # checks only: a schema that needs changes fails as a write would
    conn.execute("PRAGMA query_only = ON")
    return conn


def _connect(
    path: str | os.PathLike[str], setup: Callable[[sqlite3.Connection], object]
) -> sqlite3.Connection:
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


def open_shared_database(
    path: str | os.PathLike[str], setup: Callable[[sqlite3.Connection], object]
) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers, after `setup` (schema creation).

    Two processes switching a new database to WAL at the same moment can fail at once instead
    of waiting, so connections are set up one process at a time, under a lock file beside it.
    """
    with directory_lock(_directory_of(path)):
        return _connect(path, setup)


class SharedDatabase:
    """This process's connection to a database file that several processes share: opened on
    first use, again in a forked child (the parent's connection is kept, never closed or
    used there), and again when another file took the path (a damaged database was set aside).
    Threads share it: hold `lock()` while using `connection()`.

    Args:
        path: the database file.
        setup: run on each new connection (schema creation), see `open_shared_database`.
        on_fork: run in a forked child before it uses the database, to drop state of the
            parent's that goes with the connection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        setup: Callable[[sqlite3.Connection], object],
        on_fork: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self._setup = setup
        self._on_fork = on_fork
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # of the file last opened
        self._read_only = False
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

    @property
    def read_only(self) -> bool:
        """Whether the connection only reads (this process cannot write the file; see
        `connection`)."""
        return self._read_only

    def connection(self) -> sqlite3.Connection:
        """The connection, opened (in WAL mode, after `setup`) on first use and whenever the
        file at the path is no longer the one it opened. Where this process cannot write the
        file, the connection only reads (writes fail with SQLite's "readonly" error). Hold
        the lock."""
        if self._conn is not None and _identity(self.path) != self._identity:
            self._drop()
        if self._conn is None and not writable(self.path):
            self._identity = _identity(self.path)
            self._conn = _connect_read_only(self.path, self._setup)
            self._read_only = True
        if self._conn is None:
            self._read_only = False
            with directory_lock(_directory_of(self.path)):
                self._identity = _identity(self.path)  # also when setup finds it damaged
                self._conn = _connect(self.path, self._setup)
                self._identity = _identity(self.path)  # a new file was created
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Close this process's connection; the next use opens a new one."""
        with self.lock():
            self._drop()

    def set_aside(self) -> str | None:
        """Close the connection and rename the damaged database file (see `move_aside`), so
        that the next use starts an empty one. Returns the new name, or None if another
        process set it aside already (the file at the path is not the one this process
        opened). Hold the lock."""
        self._drop()
        return None if self._identity is None else move_aside(self.path, self._identity)


def move_aside(path: str | os.PathLike[str], identity: tuple[int, int] | None = None) -> str | None:
    """Rename the database file at `path`, with its WAL and shared-memory files, to
    `<path>.damaged-<time>`, and return that name; None if there is no file, or if it is not
    the file whose (device, inode) is `identity`."""
    with directory_lock(_directory_of(path)):
        found = _identity(path)
        if found is None or (identity is not None and found != identity):
            return None
        aside = f"{path}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
        if os.path.exists(aside):
            aside += f"-{secrets.token_hex(3)}"
        for suffix in ("-wal", "-shm", ""):  # the database last: it is what others check
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        return aside


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
