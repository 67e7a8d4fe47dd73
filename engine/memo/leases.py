"""Leases: the store keys each live run may read or write, kept in the instance's home so that
garbage collection never deletes them.

A run takes its lease (every output key of its plan and the keys it reads from earlier runs)
before it looks for stored outputs, and releases it when it ends. Taking a lease and looking
up its keys happen under a shared lock, and gc reads the leases and deletes under an
exclusive one, so gc never deletes an output between a run finding it stored and the run's
lease naming it. The lease of a run that is no longer live (it ended, or its process died)
protects nothing and is removed by the next gc (the instance tells liveness: run status,
heartbeats, and the driver's process on this host).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgpack

from solidflow.engine.instance import Instance

LEASES_DIRECTORY = "leases"
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


class Leases:
    """The leases of the runs of `instance`, one file per run under `<home>/leases`."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._directory = instance.home / LEASES_DIRECTORY

    def _path(self, run_id: str) -> Path:
        return self._directory / f"{run_id}{_SUFFIX}"

    @contextlib.contextmanager
    def taking(self, run_id: str, keys: Iterable[str]) -> Iterator[None]:
        """Record that run `run_id` may read or write the outputs under `keys`; gc deletes
        nothing until the block (in which the run looks them up in the store) ends."""
        with _locked(self._directory, fcntl.LOCK_SH):
            path = self._path(run_id)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            temporary.write_bytes(msgpack.packb(sorted(set(keys))))
            os.replace(temporary, path)
            yield

    def release(self, run_id: str) -> None:
        """Run `run_id` has ended: its lease protects nothing any more."""
        with contextlib.suppress(FileNotFoundError):
            self._path(run_id).unlink()

    @contextlib.contextmanager
    def held(self) -> Iterator[dict[str, set[str]]]:
        """While no run takes a lease: the keys leased by each live run (see `in_use`)."""
        with _locked(self._directory, fcntl.LOCK_EX):
            yield self.in_use()

    def in_use(self) -> dict[str, set[str]]:
        """The keys leased by each live run, by run id, without waiting for runs that are
        taking a lease. Leases of runs that are no longer live are removed."""
        leased: dict[str, set[str]] = {}
        if not self._directory.is_dir():
            return leased
        for path in self._directory.glob(f"*{_SUFFIX}"):
            run_id = path.name.removesuffix(_SUFFIX)
            run = self._instance.get_run(run_id)
            if run is None or run.status.ended:  # the instance ends runs found dead
                self.release(run_id)
                continue
            with contextlib.suppress(FileNotFoundError):  # released meanwhile
                leased[run_id] = set(msgpack.unpackb(path.read_bytes()))
        return leased
