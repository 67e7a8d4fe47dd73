from __future__ import annotations

import gc
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import fsspec
import pytest

from solidflow.resources import (
    FileCache,
    FileCacheConfig,
    FsspecFileCache,
    LocalFileCache,
    file_cache,
    file_cache_for,
)


@pytest.fixture
def memory_url() -> Iterator[str]:
    url = f"memory://file-cache-tests/{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture(params=["local", "memory"])
def cache(request: pytest.FixtureRequest, tmp_path: Path, memory_url: str) -> FileCache:
    if request.param == "local":
        return LocalFileCache(tmp_path / "cache")
    return FsspecFileCache(memory_url)


def test_round_trip(cache: FileCache) -> None:
    cache.write_bytes("raw/2024/data.csv", b"a,b\n1,2\n")
    assert cache.read_bytes("raw/2024/data.csv") == b"a,b\n1,2\n"


def test_write_bytes_returns_location(cache: FileCache) -> None:
    assert cache.write_bytes("x/y.bin", b"1") == cache.location("x/y.bin")


def test_empty_file(cache: FileCache) -> None:
    cache.write_bytes("empty", b"")
    assert cache.has("empty")
    assert cache.read_bytes("empty") == b""


def test_has(cache: FileCache) -> None:
    assert not cache.has("a/b.txt")
    cache.write_bytes("a/b.txt", b"x")
    assert cache.has("a/b.txt")
    assert not cache.has("a")


def test_overwrite(cache: FileCache) -> None:
    cache.write_bytes("k", b"first, longer content")
    cache.write_bytes("k", b"second")
    assert cache.read_bytes("k") == b"second"
    assert cache.keys() == ["k"]


def test_keys_lists_nested_files_sorted(cache: FileCache) -> None:
    assert cache.keys() == []
    for key in ["z.txt", "raw/2024/b.csv", "raw/2024/a.csv", "raw/x", "out/deep/er/f"]:
        cache.write_bytes(key, key.encode())
    assert cache.keys() == ["out/deep/er/f", "raw/2024/a.csv", "raw/2024/b.csv", "raw/x", "z.txt"]


def test_delete(cache: FileCache) -> None:
    cache.write_bytes("d/1", b"1")
    cache.write_bytes("d/2", b"2")
    cache.delete("d/1")
    assert not cache.has("d/1")
    assert cache.keys() == ["d/2"]


def test_delete_missing_is_a_no_op(cache: FileCache) -> None:
    cache.delete("never/written")
    assert cache.keys() == []


def test_read_missing_raises_file_not_found(cache: FileCache) -> None:
    with pytest.raises(FileNotFoundError):
        cache.read_bytes("missing")


def test_open_write_then_read(cache: FileCache) -> None:
    with cache.open("s/stream.bin", "wb") as file:
        file.write(b"part1-")
        file.write(memoryview(b"part2"))
        assert file.tell() == 11
    with cache.open("s/stream.bin") as file:
        assert file.read() == b"part1-part2"


def test_open_write_is_invisible_until_closed(cache: FileCache) -> None:
    cache.write_bytes("k", b"old")
    file = cache.open("k", "wb")
    file.write(b"new")
    assert cache.read_bytes("k") == b"old"
    assert cache.keys() == ["k"]
    file.close()
    assert cache.read_bytes("k") == b"new"


def test_failed_with_block_keeps_old_content(cache: FileCache) -> None:
    cache.write_bytes("k", b"old")
    with pytest.raises(RuntimeError), cache.open("k", "wb") as file:
        file.write(b"partial")
        raise RuntimeError("boom")
    assert cache.read_bytes("k") == b"old"
    assert cache.keys() == ["k"]


def test_failed_write_of_new_key_leaves_nothing(cache: FileCache) -> None:
    with pytest.raises(TypeError):
        cache.write_bytes("new/k", "not bytes")  # type: ignore[arg-type]
    assert not cache.has("new/k")
    assert cache.keys() == []


def test_unclosed_writer_is_discarded(cache: FileCache) -> None:
    cache.write_bytes("k", b"old")
    file = cache.open("k", "wb")
    file.write(b"abandoned")
    del file
    gc.collect()
    assert cache.read_bytes("k") == b"old"
    assert cache.keys() == ["k"]


def test_closed_writer_rejects_writes(cache: FileCache) -> None:
    file = cache.open("k", "wb")
    file.close()
    file.close()
    with pytest.raises(ValueError):
        file.write(b"late")


@pytest.mark.parametrize("mode", ["r", "w", "ab", "r+b"])
def test_open_rejects_other_modes(cache: FileCache, mode: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'rb' or 'wb', not '{mode}'")):
        cache.open("k", mode)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "non-empty"),
        ("/etc/passwd", "relative"),
        ("../outside", "'..'"),
        ("a/../../b", "'..'"),
        ("a/..", "'..'"),
        ("a//b", "empty or '.'"),
        ("a/./b", "empty or '.'"),
        ("a/", "empty or '.'"),
        ("a\\b", "relative"),
        ("C:/x", "relative"),
        (".sftmp-123", "reserved"),
    ],
)
def test_invalid_keys_are_rejected(cache: FileCache, key: str, reason: str) -> None:
    for call in (
        lambda: cache.write_bytes(key, b"x"),
        lambda: cache.read_bytes(key),
        lambda: cache.has(key),
        lambda: cache.delete(key),
        lambda: cache.location(key),
        lambda: cache.open(key, "wb"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert f"invalid file cache key {key!r}" in str(info.value)
        assert reason in str(info.value)


# --- local ------------------------------------------------------------------------------------


def test_local_files_live_under_root(tmp_path: Path) -> None:
    cache = LocalFileCache(tmp_path)
    location = cache.write_bytes("raw/data.csv", b"1")
    assert location == str(tmp_path / "raw" / "data.csv")
    assert (tmp_path / "raw" / "data.csv").read_bytes() == b"1"


def test_local_root_is_created_on_first_write(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet"
    cache = LocalFileCache(root)
    assert not root.exists()
    assert cache.keys() == []
    cache.write_bytes("k", b"1")
    assert (root / "k").is_file()


def test_local_root_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cache = LocalFileCache("rel")
    assert cache.root == tmp_path / "rel"


def test_local_sees_files_written_by_others(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"outside")
    cache = LocalFileCache(tmp_path)
    assert cache.keys() == ["sub/f"]
    assert cache.read_bytes("sub/f") == b"outside"


def test_local_failed_fsync_keeps_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = LocalFileCache(tmp_path)
    cache.write_bytes("dir/k", b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cache.write_bytes("dir/k", b"new content")
    assert (tmp_path / "dir" / "k").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["k"]


def test_local_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    cache = LocalFileCache(tmp_path)
    cache.write_bytes("dir/k", b"old")
    with pytest.raises(RuntimeError), cache.open("dir/k", "wb") as file:
        file.write(b"x" * 100_000)
        raise RuntimeError("stop")
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["k"]
    assert (tmp_path / "dir" / "k").read_bytes() == b"old"


def test_local_write_in_progress_is_not_listed(tmp_path: Path) -> None:
    cache = LocalFileCache(tmp_path)
    with cache.open("k", "wb") as file:
        file.write(b"1")
        assert len(list(tmp_path.iterdir())) == 1
        assert cache.keys() == []
    assert cache.keys() == ["k"]


# --- fsspec -----------------------------------------------------------------------------------


def test_fsspec_location_is_a_url(memory_url: str) -> None:
    cache = FsspecFileCache(memory_url)
    location = cache.write_bytes("a/b.txt", b"1")
    assert location.startswith("memory://")
    assert location.endswith(memory_url.removeprefix("memory://") + "/a/b.txt")
    with fsspec.open(location, "rb") as file:
        assert file.read() == b"1"


def test_fsspec_trailing_slash_in_url(memory_url: str) -> None:
    FsspecFileCache(memory_url).write_bytes("k", b"1")
    assert FsspecFileCache(memory_url + "/").keys() == ["k"]


def test_fsspec_sibling_prefixes_are_separate(memory_url: str) -> None:
    FsspecFileCache(memory_url + "/a").write_bytes("k", b"1")
    FsspecFileCache(memory_url + "/ab").write_bytes("j", b"2")
    assert FsspecFileCache(memory_url + "/a").keys() == ["k"]


def test_fsspec_local_url(tmp_path: Path) -> None:
    cache = FsspecFileCache(tmp_path.as_uri())
    cache.write_bytes("nested/dir/k", b"1")
    assert (tmp_path / "nested" / "dir" / "k").read_bytes() == b"1"
    assert cache.keys() == ["nested/dir/k"]


def test_fsspec_without_move_copies_the_temporary_file(
    memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FsspecFileCache(memory_url)

    def no_move(*args: object, **kwargs: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(cache.fs, "mv", no_move)
    cache.write_bytes("k", b"copied")
    assert cache.read_bytes("k") == b"copied"
    assert cache.keys() == ["k"]
    assert len(cache.fs.find(cache.root)) == 1


def test_fsspec_storage_options_reach_the_filesystem(memory_url: str) -> None:
    cache = FsspecFileCache(memory_url, {"example_option": 1})
    assert cache.fs.storage_options == {"example_option": 1}


# --- choosing an implementation and the resource ----------------------------------------------


def test_file_cache_for_plain_path_is_local(tmp_path: Path) -> None:
    cache = file_cache_for(str(tmp_path))
    assert isinstance(cache, LocalFileCache)
    assert cache.root == tmp_path


def test_file_cache_for_file_url_is_local(tmp_path: Path) -> None:
    cache = file_cache_for(tmp_path.as_uri())
    assert isinstance(cache, LocalFileCache)
    assert cache.root == tmp_path


def test_file_cache_for_other_urls_is_fsspec(memory_url: str) -> None:
    cache = file_cache_for(memory_url)
    assert isinstance(cache, FsspecFileCache)
    assert cache.url == memory_url


def test_file_cache_for_local_rejects_storage_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="storage_options"):
        file_cache_for(str(tmp_path), {"anon": True})


def test_config_schema() -> None:
    assert file_cache.config_schema is FileCacheConfig
    config = FileCacheConfig(location="memory://x")
    assert config.storage_options == {}
    with pytest.raises(ValueError):
        FileCacheConfig(location="memory://x", unknown=1)  # type: ignore[call-arg]


def test_resource_function_builds_the_cache(tmp_path: Path, memory_url: str) -> None:
    local = file_cache.fn(SimpleNamespace(config=FileCacheConfig(location=str(tmp_path))))
    assert isinstance(local, LocalFileCache)
    remote = file_cache.fn(SimpleNamespace(config=FileCacheConfig(location=memory_url)))
    assert isinstance(remote, FsspecFileCache)
    remote.write_bytes("k", b"1")
    assert FsspecFileCache(memory_url).read_bytes("k") == b"1"
