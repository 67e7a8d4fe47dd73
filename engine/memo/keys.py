"""Memoization keys: a step key changes whenever anything that could change its outputs does.

Step key = sha256 of: the solid's name in the pipeline, its code version, its canonical config,
the keys of all its inputs, and its data version. Output key = sha256(step key, output name).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import secrets
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from solidflow.definitions.config import plain_config
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import MSGPACK_INTS

KEY_RECIPE_VERSION = 1


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        first = body[0].value if body and isinstance(body[0], ast.Expr) else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def _bytecode_identity(code: types.CodeType) -> bytes:
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        parts.append(
            _bytecode_identity(const) if isinstance(const, types.CodeType) else repr(const).encode()
        )
    return b"\0".join(parts)


@functools.lru_cache(maxsize=4096)
def source_version(fn: types.FunctionType) -> str:
    """A hash of the function's source with comments, docstrings, formatting and decorators
    left out; the bytecode when the source is not available."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return "bytecode:" + _digest(_bytecode_identity(fn.__code__))[:32]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []
    normalised = ast.dump(_StripDocstrings().visit(tree), include_attributes=False)
    return "source:" + _digest(normalised.encode())[:32]


def code_version(solid: SolidDefinition) -> str:
    """`version=` when the solid declares one, else a hash of its normalised source."""
    return f"version:{solid.version}" if solid.version is not None else source_version(solid.fn)


def canonical_config(config: Any) -> str:
    """The config (a Config model or a scalar value) as sorted, compact JSON ("null" without
    config)."""
    return json.dumps(plain_config(config), sort_keys=True, separators=(",", ":"))


def fingerprint(value: Any) -> str:
    """A content hash of a value given in run_config; values that cannot be hashed get a random
    fingerprint, so they never match a stored output (a forced miss, never a false hit)."""
    try:
        encoded = msgpack.packb(_canonical(value), use_bin_type=True)
    except (TypeError, ValueError):
        return "unhashable:" + secrets.token_hex(16)
    return "value:" + _digest(encoded)[:32]


def _canonical(value: Any) -> Any:
    if isinstance(value, int) and value not in MSGPACK_INTS:
        return ["int", str(value)]  # beyond what msgpack encodes
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, Mapping):
        return [
            [_canonical(k), _canonical(v)]
            for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))
        ]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_canonical(item) for item in value]]
    table_bytes = _arrow_bytes(value)
    if table_bytes is not None:
        return ["arrow", _digest(table_bytes)]
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def _arrow_bytes(value: Any) -> bytes | None:
    import sys

    pa = sys.modules.get("pyarrow")
    if pa is None or not isinstance(value, (pa.Table, pa.RecordBatch)):
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, value.schema) as writer:
        writer.write(value)
    return sink.getvalue().to_pybytes()


def output_key(memo_key: str, output: str) -> str:
    """The key of output `output` of the step whose memo key is `memo_key`."""
    return _digest(f"{memo_key}/{output}".encode())


def lineage_key(lineage: Mapping[str, Any]) -> str:
    """The step key of a lineage in its `StepLineage.as_dict` form."""
    return _digest(msgpack.packb(lineage, use_bin_type=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class StepLineage:
    """What a step key is made of; kept with the step's events to explain why a step runs."""

    solid: str
    code_version: str
    config: str
    inputs: Mapping[str, str | tuple[str, ...]]
    data_version: str | None

    @property
    def memo_key(self) -> str:
        return lineage_key(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipe": KEY_RECIPE_VERSION,
            "solid": self.solid,
            "code_version": self.code_version,
            "config": self.config,
            "inputs": {
                name: list(key) if isinstance(key, tuple) else key
                for name, key in sorted(self.inputs.items())
            },
            "data_version": self.data_version,
        }
