"""The intermediate stores a Ray worker process has open, kept for the runs that follow."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from solidflow.engine.store import IntermediateStore

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
