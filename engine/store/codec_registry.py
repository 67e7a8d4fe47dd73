"""The codecs the engine knows: registered with `register_codec` or found through the entry
points of the group "solidflow.codecs" (loaded when a value of a class outside the builtins
is first stored, loaded, described or converted), and looked up by a value's class or by
the type name a stored output records."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from solidflow.engine.store.codecs import Codec, qualified_name
from solidflow.registry import PluginRegistry

CODECS: PluginRegistry[Codec] = PluginRegistry("solidflow.codecs", "codec")


def register_codec(codec: Codec, name: str | None = None) -> Codec:
    """Register `codec` (under `name`, by default its python_type); it takes precedence over
    codecs from entry points for the classes it names."""
    if not isinstance(codec, Codec):
        raise TypeError(f"{codec!r} is not a solidflow Codec")
    return CODECS.register(name or codec.python_type, codec)


class _Index:
    """Codecs by qualified class name and by python_type, as of one registry version."""

    def __init__(self, codecs: Mapping[str, Codec], version: int) -> None:
        self.version = version
        self.by_class: dict[str, Codec] = {}
        self.by_type: dict[str, Codec] = {}
        for codec in codecs.values():  # registered in code last: they win
            self.by_type[codec.python_type] = codec
            for name in codec.classes:
                self.by_class[name] = codec


_index = _Index({}, -1)


def _current() -> _Index:
    global _index
    if _index.version != CODECS.version:
        codecs = CODECS.items()  # loads the entry points, which changes the version
        _index = _Index(codecs, CODECS.version)
    return _index


def codec_for_class(cls: type) -> Codec | None:
    """The codec of values of class `cls`: the codec naming `cls` or its nearest named base
    class; None for builtins (plain data is stored as msgpack or pickle)."""
    if cls.__module__ == "builtins":
        return None
    return _codec_for_class(cls, CODECS.version)


@functools.lru_cache(maxsize=1024)
def _codec_for_class(cls: type, version: int) -> Codec | None:
    by_class = _current().by_class
    for klass in getattr(cls, "__mro__", (cls,)):
        found = by_class.get(qualified_name(klass))
        if found is not None:
            return found
    return None


def codec_for_type(python_type: str) -> Codec | None:
    """The codec that stores outputs recorded with `python_type`."""
    return _current().by_type.get(python_type)


def describe(value: Any) -> Mapping[str, Any]:
    """What the codec of `value`'s class reports about it (rows, columns, schema...); empty
    when it has no codec or describing it fails (metadata never fails a step)."""
    codec = codec_for_class(type(value))
    if codec is None:
        return {}
    try:
        return codec.describe(value)
    except Exception:
        return {}


def feeds(output_class: type, input_class: type) -> bool:
    """Whether outputs of `output_class` are stored as datasets that inputs of `input_class`
    receive converted (the edge check of solidflow.definitions.types asks this through the
    entry point group "solidflow.conversions")."""
    writer = codec_for_class(output_class)
    if writer is None or not writer.writes_datasets or not isinstance(input_class, type):
        return False
    reader = codec_for_class(input_class)
    return reader is not None and reader.loads_datasets


def dataset_as(dataset: Any, classes: tuple[type, ...], resources: Mapping[str, Any]) -> Any:
    """The StoredDataset `dataset` as an input declaring `classes` receives it: built by the
    codec of the first declared class that loads datasets. An untyped input gets what the
    codec that wrote the dataset loads when the step has the resources it needs, else an
    Arrow table (as does an input of any other class)."""
    for cls in classes:
        codec = codec_for_class(cls) if isinstance(cls, type) else None
        if codec is not None and codec.loads_datasets:
            missing = [name for name in codec.dataset_resources if name not in resources]
            if missing:
                raise ValueError(
                    f"reading it as {codec.python_type} needs the resource '{missing[0]}' (add "
                    f"required_resource_keys={{'{missing[0]}'}})"
                )
            return codec.from_dataset(dataset, resources)
    if not classes:
        writer = codec_for_type(dataset.python_type)
        if (
            writer is not None
            and writer.loads_datasets
            and all(name in resources for name in writer.dataset_resources)
        ):
            return writer.from_dataset(dataset, resources)
    return dataset.to_arrow()
