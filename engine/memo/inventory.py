"""What the intermediate store of an instance holds."""

from __future__ import annotations

from dataclasses import dataclass

from solidflow.engine.events.records import EventType
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
    return IntermediateStore(
        settings.root, dict(settings.storage_options), backend=settings.backend
    )


def _stored_by_run(instance: Instance, run_id: str) -> set[str]:
    """The keys of the outputs that the steps of run `run_id` stored. A step that finds its
    output stored under the same key (a re-execution) stores nothing new, and the sidecar
    names the run that wrote it first, but the output is still one of this run's."""
    return {
        event.payload["key"]
        for event in instance.events(run_id)
        if event.type is EventType.STEP_OUTPUT and event.payload.get("stored")
    }


def list_stored_outputs(instance: Instance, *, run_id: str | None = None) -> StoreListing:
    """The outputs stored under the instance's storage root (only those that the steps of
    run `run_id` stored, when given), newest first."""
    store = instance_store(instance)
    try:
        outputs = store.list()
    finally:
        store.close()
    if run_id is not None:
        keys = _stored_by_run(instance, run_id)
        outputs = [stored for stored in outputs if stored.key in keys]
    return StoreListing(
        root=instance.config.storage.root,
        outputs=outputs,
        total_bytes=sum(stored.bytes for stored in outputs),
    )
