"""Small objects kept beside a store's outputs, that every process using the store sees at
once, wherever it runs: how runs and gc on different hosts coordinate (see memo.store_leases)."""

from __future__ import annotations

import contextlib

from fsspec import AbstractFileSystem


class SharedObjects:
    """The objects directly under `directory` on the filesystem `fs`, by name: each is
    written whole (a put, or a write under a temporary name and a move), read whole, listed
    and removed. The filesystem must not cache listings."""

    def __init__(self, fs: AbstractFileSystem, directory: str) -> None:
        self.fs = fs
        self.directory = directory.rstrip("/")

    def __repr__(self) -> str:
        return f"SharedObjects({self.fs.unstrip_protocol(self.directory)!r})"

    def put(self, name: str, data: bytes) -> None:
        """Write the object `name` (replacing it)."""
        self.fs.pipe_file(f"{self.directory}/{name}", data)

    def get(self, name: str) -> bytes | None:
        """The content of the object `name`, None if there is none."""
        try:
            return bytes(self.fs.cat_file(f"{self.directory}/{name}"))
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        """The names of the objects, sorted."""
        try:
            listed = self.fs.ls(self.directory, detail=False)
        except FileNotFoundError:
            return []
        return sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in listed)

    def remove(self, name: str) -> None:
        """Remove the object `name`, if there is one."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(f"{self.directory}/{name}")
