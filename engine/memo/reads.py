"""What code reads, from its bytecode: the chains of global and closure names (`a.b.c`) a
function or a class definition loads, and the modules it imports. Found once per function or
class object."""

from __future__ import annotations

import dis
import sys
import types
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from solidflow.engine.memo.sources import class_body_code


@dataclass(frozen=True, slots=True)
class Reads:
    """What a code object reads: chains of names (`a.b.c`) rooted at globals or at closure
    variables, and the modules it imports as (name, level, names imported from it)."""

    code: types.CodeType
    globals: tuple[tuple[str, ...], ...]
    free: tuple[tuple[str, ...], ...]
    imports: tuple[tuple[str, int, tuple[str, ...]], ...]


_OPS = dis.opmap
_CACHE = _OPS.get("CACHE", -1)
_EXTENDED_ARG = _OPS["EXTENDED_ARG"]
_LOAD_CONST = _OPS["LOAD_CONST"]
_NAMED = {  # ops whose argument names an entry of co_names: the shift that gives its index
    _OPS[name]: (name, shift)
    for name, shift in [
        ("LOAD_GLOBAL", 1 if sys.version_info >= (3, 11) else 0),
        ("LOAD_NAME", 0),
        ("LOAD_ATTR", 1 if sys.version_info >= (3, 12) else 0),
        ("LOAD_METHOD", 0),
        ("IMPORT_NAME", 0),
    ]
    if name in _OPS
}


def named_instructions(code: types.CodeType) -> Iterator[tuple[str, Any]]:
    """(op name, argument) of the instructions that load names or constants, and ("", None)
    for every other instruction: a faster `dis.get_instructions` for code without closure
    variables (whose names only `dis` knows how to find)."""
    raw, names, consts = code.co_code, code.co_names, code.co_consts
    extended = 0
    for index in range(0, len(raw), 2):
        op = raw[index]
        if op == _CACHE:
            continue
        if op == _EXTENDED_ARG:
            extended = (extended | raw[index + 1]) << 8
            continue
        arg, extended = extended | raw[index + 1], 0
        named = _NAMED.get(op)
        if named is not None:
            yield named[0], names[arg >> named[1]]
        elif op == _LOAD_CONST:
            yield "LOAD_CONST", consts[arg]
        else:
            yield "", None


def _instructions(code: types.CodeType, free_names: frozenset[str]) -> Iterator[tuple[str, Any]]:
    if not free_names:
        return named_instructions(code)
    return ((i.opname, i.argval) for i in dis.get_instructions(code))


def _scan(code: types.CodeType, free_names: frozenset[str], nested: bool) -> Reads:
    found: dict[str, dict[Any, None]] = {"globals": {}, "free": {}, "imports": {}}

    def scan(code: types.CodeType) -> None:
        chain: list[str] | None = None
        root = "globals"
        consts: list[Any] = []
        for op, argval in _instructions(code, free_names):
            if chain is not None and op in ("LOAD_ATTR", "LOAD_METHOD"):
                chain.append(argval)
                continue
            if chain is not None:
                found[root][tuple(chain)] = None
                chain = None
            if op in ("LOAD_GLOBAL", "LOAD_NAME"):
                chain, root = [argval], "globals"
            elif op == "LOAD_DEREF" and argval in free_names:
                chain, root = [argval], "free"
            elif op == "IMPORT_NAME" and len(consts) >= 2:
                level, names = consts[-2], consts[-1]
                found["imports"][(argval, level, tuple(names or ()))] = None
            if op == "LOAD_CONST":
                consts.append(argval)
        if chain is not None:
            found[root][tuple(chain)] = None
        if nested:
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    scan(const)

    scan(code)
    return Reads(code, tuple(found["globals"]), tuple(found["free"]), tuple(found["imports"]))


_function_reads: weakref.WeakKeyDictionary[types.FunctionType, Reads] = weakref.WeakKeyDictionary()


def function_reads(fn: types.FunctionType) -> Reads:
    """What `fn` reads, found once per function object (and code object)."""
    cached = _function_reads.get(fn)
    if cached is None or cached.code is not fn.__code__:
        code = fn.__code__
        cached = _function_reads[fn] = _scan(code, frozenset(code.co_freevars), nested=True)
    return cached


_class_reads: weakref.WeakKeyDictionary[type, tuple[Reads, ...]] = weakref.WeakKeyDictionary()


def class_reads(cls: type) -> tuple[Reads, ...]:
    """The global names a class's definition reads outside its methods: its bases,
    decorators and class-level statements (empty without its source)."""
    cached = _class_reads.get(cls)
    if cached is None:
        module_code = class_body_code(cls)
        cached = ()
        if module_code is not None:
            bodies = [c for c in module_code.co_consts if isinstance(c, types.CodeType)]
            cached = tuple(_scan(c, frozenset(), nested=False) for c in [module_code, *bodies])
        _class_reads[cls] = cached
    return cached


def class_functions(cls: type) -> Iterator[types.FunctionType]:
    """The functions defined in the class's body: methods, static and class methods,
    property accessors."""
    prefix = cls.__qualname__ + "."
    for value in vars(cls).values():
        candidates = [getattr(value, "__func__", value), getattr(value, "func", None)]
        if isinstance(value, property):
            candidates = [value.fget, value.fset, value.fdel]
        for candidate in candidates:
            if isinstance(candidate, types.FunctionType) and candidate.__qualname__.startswith(
                prefix
            ):
                yield candidate


def canonical_path(obj: Any) -> bool:
    """Whether the object is what the attribute path `__qualname__` names in its module (for
    a function, the module it was defined in, even if that was imported again since)."""
    qualname = getattr(obj, "__qualname__", "")
    if "<" in qualname:
        return False
    first, _, rest = qualname.partition(".")
    if isinstance(obj, types.FunctionType):
        found = obj.__globals__.get(first)
    else:
        found = getattr(sys.modules.get(getattr(obj, "__module__", None) or ""), first, None)
    for name in rest.split(".") if rest else ():
        found = getattr(found, name, None)
    return found is obj
