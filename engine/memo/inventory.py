"""What the intermediate store of an instance holds."""

from __future__ import annotations

from dataclasses import dataclass

from solidflow.engine.instance import Instance
from solidflow.engine.store import IntermediateStore, StoredOutput


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreListing:
    """Stored outputs and their total size.

    Args:
        root: the store's root directory or URL.
        outputs: the sidecar of every output listed, newest first.
        total_bytes: the size of those outputs together.
    """

    root: str
    outputs: list[StoredOutput]
    total_bytes: int


def instance_store(instance: Instance) -> IntermediateStore:
    """The store under the instance's storage root (close it after use)."""
    settings = instance.config.storage
    return IntermediateStore(settings.root, backend=settings.backend)


def list_stored_outputs(instance: Instance, *, run_id: str | None = None) -> StoreListing:
    """The outputs stored under the instance's storage root (only those that run `run_id`
    produced, when given), newest first."""
    store = instance_store(instance)
    try:
        outputs = store.list(run_id=run_id)
    finally:
        store.close()
    return StoreListing(
        root=instance.config.storage.root,
        outputs=outputs,
        total_bytes=sum(stored.bytes for stored in outputs),
    )
