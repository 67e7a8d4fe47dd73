"""The intermediate store: every step output of every run, stored once under an opaque hex
key, with a sidecar record of what it is and who produced it."""

from solidflow.engine.store.records import (
    OutputCorrupt,
    OutputMissing,
    OutputStatus,
    StoredOutput,
    StoreError,
)
from solidflow.engine.store.refs import StoredRef
from solidflow.engine.store.store import IntermediateStore, is_local_root

__all__ = [
    "IntermediateStore",
    "OutputCorrupt",
    "OutputMissing",
    "OutputStatus",
    "StoreError",
    "StoredOutput",
    "StoredRef",
    "is_local_root",
]
