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
from solidflow.engine.store.shared import SharedObjects

_LOG = logging.getLogger("solidflow.store")


class StorageBackend(ABC):
    """Stored outputs, their sidecars and the datasets other engines write, under one root.

    Backends are found by name in the `solidflow.storages` entry point group ("local" for a
    directory and "fsspec" for a URL are built in; a URL whose protocol names a registered
    backend, such as "s3", uses it), or by "package.module:Class", given as
    `storage: {backend: ...}` in solidflow.yaml or run_config.

    What a write does to an output stored under the same key (every backend follows it):
    - by default (`replace=False`, a memoized run) it keeps the stored output if it is
      valid, and drops the new one: the output under a key is written once;
    - with `replace=True` (a run without memoization, whose steps all ran) the new output
      takes its place when it is committed, atomically: a reader finds the old output whole
      or the new one whole (or, where two files cannot be swapped at once, briefly finds it
      CORRUPT or MISSING and computes it again), never the old data under the new sidecar,
      and never the old output once the write returned (or `publish` did, for `stage`). A
      reader that opened the old data before keeps reading it whole where the backend can
      (local files keep their inode); nothing that vouched for the old data (a verified
      marker) vouches for the new;
    - a Parquet dataset (`write_dataset`) is always written beside the stored one, which
      stays whole for its readers until `store gc` removes it; its sidecar, replaced
      atomically, is the commit.
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
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        replace: bool = False,
    ) -> StoredOutput: ...
    @abstractmethod
    def write_dataset(
        self, key: str, produce: Produce, describe: Callable[..., StoredOutput]
    ) -> StoredOutput: ...
    def stage(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        sync: bool,
        replace: bool = False,
    ) -> Staged:
        """Write an output without committing it (until `publish`). The default commits at
        once: backends that can write an output invisibly override it."""
        record = self.write(key, encoded, describe, replace)
        return Staged(key=key, record=record, files=None, replace=replace)

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs (synced first if `sync`), never replacing a valid output
        unless the output says so (`Staged.replace`)."""
        self.flush()

    def discard(self, staged: Sequence[Staged]) -> None:  # noqa: B027 (nothing to drop)
        """Drop staged outputs that will not be committed."""

    def shared_objects(self, name: str) -> SharedObjects | None:
        """The objects of the directory `name` beside the outputs, which processes on every
        host that use this store see; None for a store that only one host uses (its processes
        coordinate through the instance's home)."""
        return None

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


STORAGES = Registry[StorageBackend]("storage backend", "solidflow.storages", StorageBackend)
"""The storage backends, by name."""
