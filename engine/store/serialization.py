"""Values to stored bytes and back: values whose class has a codec as that codec says (Arrow
IPC files for tables and arrays), bytes-like values as they are, plain data as msgpack,
anything else with cloudpickle."""

from __future__ import annotations

from typing import Any

import cloudpickle
import msgpack
import pyarrow as pa

from solidflow.engine.events.records import MSGPACK_INTS
from solidflow.engine.store.codec_registry import codec_for_class, codec_for_type
from solidflow.engine.store.codecs import ARROW, Encoded, qualified_name

MSGPACK, PICKLE, BYTES = "msgpack", "pickle", "bytes"
DATA_SUFFIXES = (".arrow", ".bin")
"""The name endings of stored data files: Arrow IPC files, and other payloads."""
_MSGPACK_SCALARS = (type(None), bool, float, str, bytes)
_BYTES_LIKE: dict[type, str] = {
    bytes: "builtins.bytes",
    bytearray: "builtins.bytearray",
    memoryview: "builtins.memoryview",
}
BYTEARRAY = _BYTES_LIKE[bytearray]

__all__ = [
    "ARROW",
    "BYTEARRAY",
    "BYTES",
    "DATA_SUFFIXES",
    "MSGPACK",
    "PICKLE",
    "Encoded",
    "data_suffix",
    "decode",
    "encode",
]


def data_suffix(serializer: str) -> str:
    """The name ending of the data file of an output stored with `serializer`."""
    return DATA_SUFFIXES[0] if serializer == ARROW else DATA_SUFFIXES[1]


def _is_msgpack_data(value: Any) -> bool:
    kind = type(value)
    if kind in _MSGPACK_SCALARS:
        return True
    if kind is int:
        return value in MSGPACK_INTS
    if kind is list:
        return all(_is_msgpack_data(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_msgpack_data(v) for k, v in value.items())
    return False


def _bytes_like(value: Any) -> Encoded | None:
    python_type = _BYTES_LIKE.get(type(value))
    if python_type is None:
        return None
    view = memoryview(value)
    payload = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    return Encoded(serializer=BYTES, python_type=python_type, payload=payload)


def encode(value: Any) -> Encoded:
    """`value` in the form it is stored in."""
    codec = codec_for_class(type(value))
    if codec is not None:
        encoded = codec.encode(value)
        if encoded is not None:
            return encoded
    encoded = _bytes_like(value)
    if encoded is not None:
        return encoded
    python_type = qualified_name(type(value))
    if _is_msgpack_data(value):
        try:
            payload = msgpack.packb(value, use_bin_type=True)
        except UnicodeEncodeError:  # strings with lone surrogates
            pass
        else:
            return Encoded(serializer=MSGPACK, python_type=python_type, payload=payload)
    return Encoded(serializer=PICKLE, python_type=python_type, payload=cloudpickle.dumps(value))


def decode(serializer: str, python_type: str, data: Any) -> Any:
    """The value of type `python_type` stored by `serializer` as `data` (any buffer; bytes or
    a bytearray are returned as they are when that is the type)."""
    if serializer == BYTES:
        kind = {name: cls for cls, name in _BYTES_LIKE.items()}[python_type]
        if kind is memoryview:
            return memoryview(data).toreadonly()
        return data if type(data) is kind else kind(data)
    if serializer == MSGPACK:
        return msgpack.unpackb(data, raw=False)
    if serializer == PICKLE:
        return cloudpickle.loads(data)
    codec = codec_for_type(python_type)
    if codec is None:
        raise ValueError(
            f"no codec loads outputs of type {python_type!r} (serializer {serializer!r}); "
            "install or register the integration that stored it"
        )
    return codec.decode(pa.ipc.open_file(data) if serializer == ARROW else data)
