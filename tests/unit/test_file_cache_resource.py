"""The built-in file_cache resource inside a pipeline, on a local directory and on fsspec."""

from __future__ import annotations

import uuid

import fsspec
import pytest

from solidflow import Instance, Mode, execute_pipeline, pipeline, solid
from solidflow.resources import FsspecFileCache, LocalFileCache, file_cache


@solid(required_resource_keys={"cache"})
def write(context) -> str:
    return context.resources.cache.write_bytes("out/greeting.txt", b"hello")


@solid(required_resource_keys={"cache"})
def read_back(context, location: str) -> tuple:
    cache = context.resources.cache
    return (type(cache).__name__, cache.read_bytes("out/greeting.txt").decode(), location)


@pipeline(modes=[Mode("any", resources={"cache": file_cache})])
def round_trip():
    read_back(write())


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_file_cache_resource_round_trip(tmp_path, kind):
    location = str(tmp_path / "cache") if kind == "local" else f"memory://test-{uuid.uuid4().hex}"
    result = execute_pipeline(
        round_trip,
        run_config={"resources": {"cache": {"config": {"location": location}}}},
        instance=Instance(tmp_path / "home"),
    )
    assert result.success
    class_name, text, written_at = result.output_for("read_back")
    expected = LocalFileCache if kind == "local" else FsspecFileCache
    assert class_name == expected.__name__
    assert text == "hello"
    if kind == "local":
        assert (tmp_path / "cache" / "out" / "greeting.txt").read_bytes() == b"hello"
    else:
        assert (
            fsspec.filesystem("memory").cat_file(written_at.removeprefix("memory://")) == b"hello"
        )


def test_file_cache_resource_requires_location(tmp_path):
    from solidflow.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        execute_pipeline(round_trip, instance=Instance(tmp_path))
    assert raised.value.errors == [("resources.cache.config.location", "Field required")]
