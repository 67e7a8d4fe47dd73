"""Leases as files of one host: `<directory>/<run id>.keys`, guarded by a lock file.

Taking a lease holds a shared lock on `<directory>/.lock` and holding the leases an exclusive
one, so garbage collection never reads the leases while a run writes its own and looks its
keys up. The files protect the runs of the processes that share the directory (one host, one
instance home).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgpack

_SUFFIX = ".keys"


@contextlib.contextmanager
def _locked(directory: Path, operation: int) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


class FileLeases:
    """The leases of runs, one file per run in `directory`."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}{_SUFFIX}"

    @contextlib.contextmanager
    def take(self, run_id: str, keys: Iterable[str]) -> Iterator[None]:
        """Write the lease of `run_id`; hold a shared lock until the block ends."""
        with _locked(self.directory, fcntl.LOCK_SH):
            path = self._path(run_id)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            temporary.write_bytes(msgpack.packb(sorted(set(keys))))
            os.replace(temporary, path)
            yield

    def release(self, run_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(run_id).unlink()

    @contextlib.contextmanager
    def held(self) -> Iterator[dict[str, set[str]]]:
        with _locked(self.directory, fcntl.LOCK_EX):
            yield self.stored()

    def stored(self) -> dict[str, set[str]]:
        leased: dict[str, set[str]] = {}
        if not self.directory.is_dir():
            return leased
        for path in self.directory.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):  # released meanwhile
                leased[path.name.removesuffix(_SUFFIX)] = set(msgpack.unpackb(path.read_bytes()))
        return leased
