"""The file_cache resource: named files that solids read and write wherever the cache lives.

Keys are relative POSIX-style paths such as ``"raw/2024/data.csv"``. Writes are atomic: the
content goes to a temporary file next to the target and replaces the target only once it is
complete, so readers never see a partly written file.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path, PureWindowsPath
from typing import IO, Any, cast

from fsspec.core import split_protocol, url_to_fs

from solidflow.definitions.config import Config
from solidflow.definitions.resource import InitContext, resource

# Temporary files of writes in progress start with this; keys may not use it.
_TEMP_PREFIX = ".sftmp-"


def _check_key(key: str) -> str:
    """`key` itself if it is a valid cache key, else ValueError naming it."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid file cache key {key!r}: must be a non-empty string")
    if key.startswith("/") or "\\" in key or PureWindowsPath(key).drive:
        raise ValueError(f"invalid file cache key {key!r}: must be a relative POSIX-style path")
    parts = key.split("/")
    if ".." in parts:
        raise ValueError(f"invalid file cache key {key!r}: must not contain '..'")
    if any(part in ("", ".") for part in parts):
        raise ValueError(f"invalid file cache key {key!r}: has an empty or '.' path component")
    if any(part.startswith(_TEMP_PREFIX) for part in parts):
        raise ValueError(
            f"invalid file cache key {key!r}: names starting with {_TEMP_PREFIX!r} are reserved"
        )
    return key


def _check_mode(mode: str) -> None:
    if mode not in ("rb", "wb"):
        raise ValueError(f"file cache files open in mode 'rb' or 'wb', not {mode!r}")


class FileCache(ABC):
    """Named binary files under one location; keys are relative paths like 'raw/data.csv'."""

    @abstractmethod
    def has(self, key: str) -> bool:
        """Whether a file with this key exists."""

    @abstractmethod
    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        """The file for reading ("rb") or writing ("wb").

        A file opened for writing replaces the old content only when it is closed; if the
        `with` block it is used in raises, the old content (or absence) stays.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file; does nothing if there is none."""

    @abstractmethod
    def keys(self) -> list[str]:
        """Every key in the cache, sorted."""

    @abstractmethod
    def location(self, key: str) -> str:
        """Where the file for `key` lives: a local path or a URL."""

    def read_bytes(self, key: str) -> bytes:
        """The file's content; FileNotFoundError if there is none."""
        with self.open(key, "rb") as file:
            return file.read()

    def write_bytes(self, key: str, data: bytes) -> str:
        """Atomically write `data` as the file's content and return its location."""
        with self.open(key, "wb") as file:
            file.write(data)
        return self.location(key)


class _AtomicWriter(io.RawIOBase):
    """A file open for writing that commits its content when closed cleanly and discards it
    when the `with` block using it raises, when committing fails or when it is dropped
    unclosed."""

    def __init__(
        self, raw: IO[bytes], commit: Callable[[], None], discard: Callable[[], None]
    ) -> None:
        super().__init__()
        self._raw = raw
        self._commit = commit
        self._discard = discard
        self._finished = False

    def as_io(self) -> IO[bytes]:
        """This writer as the binary file type that FileCache.open returns (io classes do
        not derive from typing.IO, which is nominal)."""
        return cast(IO[bytes], self)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._finished:
            raise ValueError("write to closed file")
        return self._raw.write(data)

    def tell(self) -> int:
        return self._raw.tell()

    def flush(self) -> None:
        if not self._finished:
            self._raw.flush()

    def close(self) -> None:
        """Commit the written content; if that fails, discard it and raise."""
        if self._finished:
            return
        self._finished = True
        try:
            self._commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self._discard()
            raise
        finally:
            super().close()

    def discard(self) -> None:
        """Close without committing: the target keeps its old content."""
        if self._finished:
            return
        self._finished = True
        try:
            self._discard()
        finally:
            super().close()

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.discard()


class LocalFileCache(FileCache):
    """Files in a local directory, created on the first write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(os.path.expanduser(root)))

    def __repr__(self) -> str:
        return f"LocalFileCache({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        _check_mode(mode)
        path = self._path(key)
        if mode == "rb":
            return path.open("rb")
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{_TEMP_PREFIX}{secrets.token_hex(8)}")
        raw = temp.open("xb")

        def commit() -> None:
            raw.flush()
            os.fsync(raw.fileno())
            raw.close()
            os.replace(temp, path)

        def discard() -> None:
            raw.close()
            temp.unlink(missing_ok=True)

        return _AtomicWriter(raw, commit, discard).as_io()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        found: list[str] = []
        for folder, _, files in os.walk(self.root):
            relative = Path(folder).relative_to(self.root)
            found.extend(
                (relative / name).as_posix() for name in files if not name.startswith(_TEMP_PREFIX)
            )
        return sorted(found)

    def location(self, key: str) -> str:
        return str(self._path(key))


class FsspecFileCache(FileCache):
    """Files under any fsspec URL: s3://bucket/prefix, gs://..., memory://cache, file:///...

    Writes go to a temporary file that is then moved over the target; filesystems that cannot
    move files get the content copied from the temporary file instead.
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.fs, root = url_to_fs(url, **(storage_options or {}))
        self.root = root.rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecFileCache({self.url!r})"

    def _path(self, key: str) -> str:
        return f"{self.root}/{_check_key(key)}"

    def has(self, key: str) -> bool:
        is_file: bool = self.fs.isfile(self._path(key))
        return is_file

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        _check_mode(mode)
        path = self._path(key)
        if mode == "rb":
            file: IO[bytes] = self.fs.open(path, "rb")
            return file
        parent = path.rsplit("/", 1)[0]
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        temp = f"{parent}/{_TEMP_PREFIX}{secrets.token_hex(8)}"
        raw = self.fs.open(temp, "wb")

        def commit() -> None:
            raw.close()
            try:
                self.fs.mv(temp, path)
            except NotImplementedError:
                self.fs.pipe_file(path, self.fs.cat_file(temp))
                self.fs.rm_file(temp)

        def discard() -> None:
            try:
                raw.close()
            finally:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(temp)

        return _AtomicWriter(raw, commit, discard).as_io()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def keys(self) -> list[str]:
        prefix = f"{self.root}/"
        return sorted(
            found[len(prefix) :]
            for found in self.fs.find(self.root or prefix)
            if found.startswith(prefix) and not found.rsplit("/", 1)[-1].startswith(_TEMP_PREFIX)
        )

    def location(self, key: str) -> str:
        url: str = self.fs.unstrip_protocol(self._path(key))
        return url


def file_cache_for(location: str, storage_options: dict[str, Any] | None = None) -> FileCache:
    """A LocalFileCache for a plain path or file:// URL, else an FsspecFileCache."""
    protocol, path = split_protocol(location)
    if protocol in (None, "file", "local"):
        if storage_options:
            raise ValueError(
                f"storage_options apply to fsspec URLs, not to the local path {location!r}"
            )
        return LocalFileCache(path)
    return FsspecFileCache(location, storage_options)


class FileCacheConfig(Config):
    """Where the cache lives: a local directory or any fsspec URL."""

    location: str  # a path, or an fsspec URL such as s3://bucket/prefix or memory://cache
    storage_options: dict[str, Any] = {}


@resource(
    config=FileCacheConfig, description="Named files in a local directory or any fsspec location."
)
def file_cache(init_context: InitContext) -> FileCache:
    return file_cache_for(init_context.config.location, init_context.config.storage_options)
