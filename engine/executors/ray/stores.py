"""The intermediate stores a Ray worker process has open, kept for the runs that follow, and
the run's store as the driver reads it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from solidflow.engine.store import IntermediateStore
from solidflow.errors import ExecutorError

STORES_KEPT = 8
"""Stores a worker process keeps open (runs may each name their own store root)."""

_STORES: dict[tuple[str, str, str | None], IntermediateStore] = {}
_LOCK = threading.Lock()


def open_store(
    root: str | None, options: Mapping[str, Any], backend: str | None = None
) -> IntermediateStore | None:
    """The intermediate store at `root`, opened once per process and kept open for the runs
    that follow, up to STORES_KEPT of them (the oldest commits and closes; it reopens if
    used again)."""
    if root is None:
        return None
    key = (root, repr(sorted(options.items())), backend)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = IntermediateStore(root, dict(options), backend=backend)
            while len(_STORES) > STORES_KEPT:
                _STORES.pop(next(iter(_STORES))).close()
        return store


class DriverStore:
    """The run's intermediate store as the driver reads it: opened on first use (a run whose
    outputs all travel through Ray never opens it)."""

    def __init__(self, root: str | None, options: Mapping[str, Any], backend: str | None) -> None:
        self._spec = (root, dict(options), backend)
        self._store: IntermediateStore | None = None

    def opened(self) -> IntermediateStore:
        """The store, opened now if it was not."""
        if self._store is None:
            root, options, backend = self._spec
            if root is None:
                raise ExecutorError("this run has no intermediate store to read outputs from")
            self._store = IntermediateStore(root, options, backend=backend)
        return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()
