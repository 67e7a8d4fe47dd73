"""Canonical forms of values, for fingerprints that follow content: equal values give equal
forms, whatever their dict or set order; values with no stable representation (open
connections, locks, objects of library classes solidflow does not know) raise
Unfingerprintable instead of getting a form that could match something else."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import logging
import pathlib
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

from solidflow.engine.events.records import MSGPACK_INTS
from solidflow.engine.memo.sources import digest

MAX_DEPTH = 32
_PLAIN = (type(None), bool, int, float, str, bytes)
_BY_TEXT = (
    pathlib.PurePath,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
)


class Unfingerprintable(Exception):
    """A value has no stable representation; the message names its type."""


def qualified_type(value: Any) -> str:
    """`module.QualName` of the value's class."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def packed(form: Any) -> bytes:
    """The msgpack encoding of a canonical form (strings may hold lone surrogates)."""
    encoded: bytes = msgpack.packb(form, use_bin_type=True, unicode_errors="surrogatepass")
    return encoded


def value_digest(form: Any) -> str:
    """The hash of a canonical form."""
    return digest(packed(form))


class Canonical:
    """Turns values into msgpack-able canonical forms.

    Args:
        refer: the name of a piece of code (a function, class or module) that the form refers
            to instead of describing it, None for other values.
        user_class: whether a class is user code, whose instances are described by their
            attributes.
    """

    def __init__(
        self,
        refer: Callable[[Any], str | None] = lambda value: None,
        user_class: Callable[[type], bool] = lambda cls: False,
    ) -> None:
        self._refer = refer
        self._user_class = user_class
        self._open: set[int] = set()

    def form(self, value: Any, depth: int = 0) -> Any:
        """The canonical form of `value`; Unfingerprintable if it has none."""
        if type(value) in _PLAIN:
            if type(value) is int and value not in MSGPACK_INTS:
                return ["int", str(value)]  # beyond what msgpack encodes
            return value
        if depth > MAX_DEPTH:
            raise Unfingerprintable(f"{qualified_type(value)} nested more than {MAX_DEPTH} deep")
        if id(value) in self._open:
            raise Unfingerprintable(f"{qualified_type(value)} that contains itself")
        self._open.add(id(value))
        try:
            return self._form(value, depth + 1)
        finally:
            self._open.discard(id(value))

    def _items(self, items: Any, depth: int) -> list[Any]:
        """Forms of unordered items, sorted by their encoding."""
        return sorted((self.form(item, depth) for item in items), key=packed)

    def _form(self, value: Any, depth: int) -> Any:
        name = self._refer(value)
        if name is not None:
            return ["ref", name]
        kind = type(value)
        if kind in (list, tuple):
            return [kind.__name__, [self.form(item, depth) for item in value]]
        if kind in (set, frozenset):
            return ["set", self._items(value, depth)]
        if isinstance(value, Mapping) and kind.__module__ in ("builtins", "collections"):
            pairs = self._items(value.items(), depth)
            return ["dict", pairs]
        if kind in (bytearray, memoryview):
            return bytes(value)
        if kind is complex:
            return ["complex", value.real, value.imag]
        if kind is range:
            return ["range", value.start, value.stop, value.step]
        if isinstance(value, enum.Enum):
            return ["enum", self.form(kind, depth), value.name]
        if isinstance(value, _BY_TEXT):
            return [qualified_type(value), str(value)]
        if isinstance(value, re.Pattern):
            return ["re", value.pattern, value.flags]
        if isinstance(value, functools.partial):
            args = [self.form(value.func, depth), list(value.args), dict(value.keywords)]
            return ["partial", self.form(args, depth)]
        if isinstance(value, logging.Logger):
            return ["logger", value.name]
        try:
            described = _data_form(value)
        except Exception as error:  # say, a pandas column Arrow cannot convert
            raise Unfingerprintable(f"{qualified_type(value)} ({error})") from None
        if described is not None:
            return described
        return self._object_form(value, depth)

    def _object_form(self, value: Any, depth: int) -> Any:
        kind = type(value)
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(value, pydantic.BaseModel):
            return ["model", self.form(kind, depth), self.form(value.model_dump(), depth)]
        if dataclasses.is_dataclass(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return ["dataclass", self.form(kind, depth), self.form(fields, depth)]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return [
                "namedtuple",
                self.form(kind, depth),
                self.form(dict(zip(value._fields, value, strict=True)), depth),
            ]
        if self._user_class(kind):
            state = dict(getattr(value, "__dict__", {}))
            for slot in _slots(kind):
                if hasattr(value, slot):
                    state[slot] = getattr(value, slot)
            return ["object", self.form(kind, depth), self.form(state, depth)]
        raise Unfingerprintable(qualified_type(value))


def _slots(kind: type) -> list[str]:
    names: list[str] = []
    for base in kind.__mro__:
        slots = vars(base).get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [name for name in names if name not in ("__dict__", "__weakref__")]


def _data_form(value: Any) -> Any:
    """Forms of Arrow, numpy and pandas data, by content; None for other values."""
    module = type(value).__module__.partition(".")[0]
    if module == "pyarrow":
        return _arrow_form(value)
    if module == "numpy":
        return _numpy_form(value)
    if module == "pandas":
        pa = sys.modules.get("pyarrow")
        if pa is None:
            return None
        table = pa.Table.from_pandas(value.to_frame() if value.ndim == 1 else value)
        return ["pandas", type(value).__name__, _arrow_form(table)]
    return None


def _arrow_form(value: Any) -> Any:
    import pyarrow as pa

    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        value = pa.table({"": value})
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write(value)
        return ["arrow", digest(sink.getvalue().to_pybytes(), 64)]
    if isinstance(value, pa.Schema):
        return ["arrow-schema", value.serialize().to_pybytes()]
    if isinstance(value, (pa.DataType, pa.Field, pa.Scalar)):
        return ["arrow-" + type(value).__name__, str(value)]
    return None


def _numpy_form(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray) and value.dtype != object:
        data = np.ascontiguousarray(value).tobytes()
        return ["ndarray", str(value.dtype), list(value.shape), digest(data, 64)]
    if isinstance(value, np.generic):
        return ["numpy", str(value.dtype), repr(value.item())]
    if isinstance(value, np.dtype):
        return ["dtype", str(value)]
    return None
