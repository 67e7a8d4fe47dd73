"""Leases: the store keys each live run may read or write, kept in the instance's storage so
that garbage collection never deletes them.

A run takes its lease (every output key of its plan and the keys it reads from earlier runs)
before it looks for stored outputs, and releases it when it ends. Taking a lease and looking
up its keys exclude gc's reading the leases and deleting (see `LeaseStorage`), so gc never
deletes an output between a run finding it stored and the run's lease naming it. The lease
of a run that is no longer live (it ended, or its process died) protects nothing and is
removed by the next gc (the instance tells liveness: run status, heartbeats, and the driver's
process on this host). Where the leases live is the storage's business: files in the
instance's home for SQLite, tables of a database that several hosts share for others, and
the store itself when hosts share the store (see `store_leases`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from solidflow.engine.instance import Instance
from solidflow.engine.instance.storage import LeaseStorage


class Leases:
    """The leases of the runs of `instance`, kept in `storage` (default: the instance's).

    A lease of a run the instance does not know protects nothing and is removed, unless the
    storage holds the leases of other instances too (`storage.foreign_runs`: a store that
    hosts share), whose runs' liveness cannot be told here; such a storage forgets them
    itself when they are old.
    """

    def __init__(self, instance: Instance, storage: LeaseStorage | None = None) -> None:
        self._instance = instance
        self._storage = storage if storage is not None else instance.storage

    @contextlib.contextmanager
    def taking(self, run_id: str, keys: Iterable[str]) -> Iterator[None]:
        """Record that run `run_id` may read or write the outputs under `keys`; gc deletes
        nothing until the block (in which the run looks them up in the store) ends."""
        with self._storage.take_lease(run_id, keys):
            yield

    def release(self, run_id: str) -> None:
        """Run `run_id` has ended: its lease protects nothing any more."""
        self._storage.release_lease(run_id)

    @contextlib.contextmanager
    def held(self) -> Iterator[dict[str, set[str]]]:
        """While no run takes a lease: the keys leased by each live run (see `in_use`).
        Delete only while `may_delete()`."""
        with self._storage.held_leases() as leased:
            yield self._live(leased)

    def may_delete(self) -> bool:
        """Whether gc, holding the leases (`held`), may still delete."""
        return self._storage.may_delete()

    def in_use(self) -> dict[str, set[str]]:
        """The keys leased by each live run, by run id, without waiting for runs that are
        taking a lease. Leases of runs that are no longer live are removed."""
        return self._live(self._storage.stored_leases())

    def _live(self, leased: dict[str, set[str]]) -> dict[str, set[str]]:
        live = {}
        for run_id, keys in leased.items():
            run = self._instance.get_run(run_id)
            unknown = run is None and not self._storage.foreign_runs
            if unknown or (run is not None and run.status.ended):  # dead runs are ended
                self.release(run_id)
            else:
                live[run_id] = keys
        return live
