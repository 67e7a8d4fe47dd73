"""The storage backend seam: where and how an IntermediateStore keeps its outputs."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from solidflow.engine.registry import Registry
from solidflow.engine.store.datasets import DatasetDirectories, Produce
from solidflow.engine.store.files import Reclaimed
from solidflow.engine.store.records import Assessment, Staged, StoredOutput
from solidflow.engine.store.serialization import Encoded

_LOG = logging.getLogger("solidflow.store")


class StorageBackend(ABC):
    """Stored outputs, their sidecars and the datasets other engines write, under one root.

    Backends are found by name in the `solidflow.storages` entry point group ("local" for a
    directory and "fsspec" for a URL are built in), or by "package.module:Class", given as
    `storage: {backend: ...}` in solidflow.yaml or run_config.
    """

    datasets: DatasetDirectories
    writes_guarded: bool
    """Whether writes never replace or duplicate a valid output without looking first."""
    warn: Callable[[str], object] = _LOG.warning
    """Says what the backend found damaged and repaired (a database it set aside); the owner
    of the store may replace it (a run makes it a LOG event)."""

    @classmethod
    def from_root(cls, root: str, storage_options: Mapping[str, Any]) -> StorageBackend:
        """The backend of the store at `root` (a path or URL)."""
        return cls(root, dict(storage_options))  # type: ignore[call-arg]

    @abstractmethod
    def assess(self, keys: Sequence[str]) -> dict[str, Assessment]: ...
    @abstractmethod
    def uncommitted(self, keys: Iterable[str]) -> list[str]: ...
    @abstractmethod
    def committed(self, keys: Sequence[str]) -> set[str]: ...
    @abstractmethod
    def load(self, key: str) -> tuple[Assessment, Any]: ...
    @abstractmethod
    def write(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput]
    ) -> StoredOutput: ...
    @abstractmethod
    def write_dataset(
        self, key: str, produce: Produce, describe: Callable[..., StoredOutput]
    ) -> StoredOutput: ...
    def stage(
        self, key: str, encoded: Encoded, describe: Callable[..., StoredOutput], sync: bool
    ) -> Staged:
        """Write an output without committing it (until `publish`). The default commits at
        once: backends that can write an output invisibly override it."""
        return Staged(key=key, record=self.write(key, encoded, describe), files=None)

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs (synced first if `sync`), never replacing a valid output."""
        self.flush()

    def discard(self, staged: Sequence[Staged]) -> None:  # noqa: B027 (nothing to drop)
        """Drop staged outputs that will not be committed."""

    @abstractmethod
    def records(self) -> list[StoredOutput]: ...
    @abstractmethod
    def delete(self, key: str, dry_run: bool = False) -> int: ...
    def reclaim(self, before: float, dry_run: bool) -> list[Reclaimed]:
        """Remove (unless `dry_run`) the temporary files of killed writes that last changed
        before `before` and that no live process holds; what was (or would be) removed. A
        backend without temporary files has nothing to reclaim."""
        return []

    @abstractmethod
    def flush(self) -> None: ...
    @abstractmethod
    def close(self) -> None: ...


STORAGES = Registry("storage backend", "solidflow.storages", StorageBackend)
"""The storage backends, by name."""
