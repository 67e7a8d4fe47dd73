"""Leases kept in the store itself, for stores that runs on several hosts share (an object
store): gc on any host sees the leases of runs on every host, whatever instance storage
each host uses, without a lock they share.

A run puts its lease, `_leases/<run id>.keys`, then lists the markers `_leases/<token>.gc`
of collections that are deleting, and waits until each is gone (or has been seen for longer
than a collection may delete under one marker) before it looks its keys up. A collection
puts its marker, then reads the leases, deletes for at most `DELETE_WINDOW` seconds counted
from before its put, and removes its marker. The store orders these writes and reads (S3
reads and lists what was written before, as every object store in use today): a run whose
look at the markers missed a collection's marker put its lease before that marker, so the
collection reads the lease; a run that saw the marker waits until that collection stops
deleting. Either way no output is deleted between a run finding it stored and its lease
naming it. No clocks are compared between hosts: each side counts its own seconds.

Runs of other hosts' instances are unknown here, so their leases are kept (`foreign_runs`)
until they are `FOREIGN_LEASE_AGE` old.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable, Iterator

import msgpack

from solidflow.engine.instance import Instance
from solidflow.engine.instance.storage import LeaseStorage
from solidflow.engine.memo.leases import Leases
from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.shared import SharedObjects

DELETE_WINDOW = 30.0
"""Seconds a collection deletes under one marker, counted from before it put the marker."""
_WAIT_MARGIN = 5.0
"""How much longer than DELETE_WINDOW a run waits for a marker it sees."""
_POLL = 0.2
FOREIGN_LEASE_AGE = 7 * 86400.0
"""Seconds a lease is kept at most (its run may be of another host's instance)."""
_LEASE_SUFFIX = ".keys"
_MARKER_SUFFIX = ".gc"


class StoreLeaseStorage(LeaseStorage):
    """The leases of the runs that use a store shared by several hosts, kept in `objects`."""

    foreign_runs = True

    def __init__(self, objects: SharedObjects) -> None:
        self._objects = objects
        self._deleting_until: float | None = None

    @contextlib.contextmanager
    def take_lease(self, run_id: str, keys: Iterable[str]) -> Iterator[None]:
        """Put run `run_id`'s lease on `keys`, then wait until no collection that may have
        missed it is deleting; the run looks its keys up in the block."""
        lease = msgpack.packb({"keys": sorted(set(keys)), "written": time.time()})
        self._objects.put(f"{run_id}{_LEASE_SUFFIX}", lease)
        self._wait_for_collections()
        yield

    def _wait_for_collections(self) -> None:
        first_seen: dict[str, float] = {}
        while True:
            now = time.monotonic()
            deleting = [
                name
                for name in self._objects.names()
                if name.endswith(_MARKER_SUFFIX)
                and now - first_seen.setdefault(name, now) < DELETE_WINDOW + _WAIT_MARGIN
            ]
            if not deleting:
                return
            time.sleep(_POLL)

    def release_lease(self, run_id: str) -> None:
        """Remove run `run_id`'s lease."""
        self._objects.remove(f"{run_id}{_LEASE_SUFFIX}")

    @contextlib.contextmanager
    def held_leases(self) -> Iterator[dict[str, set[str]]]:
        """While this collection's marker stands: the keys of every lease by run id. Delete
        only while `may_delete()`."""
        marker = f"{secrets.token_hex(8)}{_MARKER_SUFFIX}"
        self._deleting_until = time.monotonic() + DELETE_WINDOW
        self._objects.put(marker, b"")
        try:
            yield self.stored_leases()
        finally:
            self._deleting_until = None
            self._objects.remove(marker)

    def may_delete(self) -> bool:
        """Whether the collection holding the leases may still delete (its window is open)."""
        return self._deleting_until is not None and time.monotonic() < self._deleting_until

    def stored_leases(self) -> dict[str, set[str]]:
        """The keys of every lease by run id; leases older than FOREIGN_LEASE_AGE are
        removed."""
        leased: dict[str, set[str]] = {}
        for name in self._objects.names():
            if not name.endswith(_LEASE_SUFFIX):
                continue
            run_id = name.removesuffix(_LEASE_SUFFIX)
            content = self._objects.get(name)
            if content is None:
                continue  # released meanwhile
            lease = msgpack.unpackb(content)
            if time.time() - lease["written"] > FOREIGN_LEASE_AGE:
                self.release_lease(run_id)
                continue
            leased[run_id] = set(lease["keys"])
        return leased


def leases_of(instance: Instance, store: IntermediateStore) -> Leases:
    """The leases of the runs that use `store`: in the store when hosts share it, else in
    the instance's storage."""
    objects = store.shared_objects("leases")
    return Leases(instance, None if objects is None else StoreLeaseStorage(objects))
