"""Hashes of code that comments, formatting and docstrings do not change: of a function's
bytecode (what runs), and of the normalised source of classes and modules (whose class-level
and module-level statements are not kept as code).

Each source file is parsed once per content (as `linecache` holds it), so hashing many
classes of one module costs one parse.
"""

from __future__ import annotations

import ast
import collections
import hashlib
import linecache
import sys
import types
import weakref
from typing import Any

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_CLAUSES = ("handlers", "cases")  # lists of clauses that have a body
_BLOCKS = ("body", "orelse", "finalbody", *_CLAUSES)


def digest(data: bytes, length: int = 32) -> str:
    """The first `length` hex digits of the SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()[:length]


class _Normalise(ast.NodeTransformer):
    """Drops docstrings."""

    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        first = body[0].value if body and isinstance(body[0], ast.Expr) else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Module = _strip


class _ParsedFile:
    """A source file's tree, its definitions by qualified name, and their normalised hashes."""

    def __init__(self, source: str) -> None:
        tree = ast.parse(source)
        # Definitions by qualified name; a name that two definitions share (say, in both
        # branches of an if) tells neither apart: it maps to None.
        self.by_name: dict[str, ast.stmt | None] = {}
        self.tree = tree
        self._index(tree.body, "")
        self._hashes: dict[ast.AST, str] = {}
        self._imported: dict[str, tuple[str, int, str]] | None = None

    def _index(self, statements: list[ast.stmt], prefix: str) -> None:
        for node in statements:
            if isinstance(node, _DEFINITIONS):
                name = prefix + node.name
                self.by_name[name] = None if name in self.by_name else node
                inner = "<locals>." if not isinstance(node, ast.ClassDef) else ""
                self._index(node.body, f"{name}.{inner}")
                continue
            for field in _BLOCKS:  # definitions inside if, for, with, try, match blocks
                block = getattr(node, field, None)
                if block:
                    for item in block:
                        self._index(item.body if field in _CLAUSES else [item], prefix)

    def _hash(self, node: ast.AST | None) -> str | None:
        if node is None:
            return None
        if node not in self._hashes:
            normalised = ast.fix_missing_locations(_Normalise().visit(node))
            self._hashes[node] = digest(ast.dump(normalised, include_attributes=False).encode())
        return self._hashes[node]

    def node(self, qualname: str) -> ast.stmt | None:
        """The normalised definition named `qualname`, None if there is none."""
        self.hash_of(qualname)
        return self.by_name.get(qualname)

    def hash_of(self, qualname: str) -> str | None:
        """The hash of the definition named `qualname`, None if there is none."""
        return self._hash(self.by_name.get(qualname))

    def module_hash(self) -> str:
        """The hash of the whole file."""
        return self._hash(self.tree) or ""

    def imported_names(self) -> dict[str, tuple[str, int, str]]:
        """Names that module-level `from M import x [as y]` statements bind: y -> (M, level, x)."""
        if self._imported is None:
            self._imported = {
                alias.asname or alias.name: (node.module or "", node.level, alias.name)
                for node in self.tree.body
                if isinstance(node, ast.ImportFrom)
                for alias in node.names
            }
        return self._imported


_PARSED_FILES = 128
_parsed: collections.OrderedDict[str, tuple[list[str], _ParsedFile | None]] = (
    collections.OrderedDict()
)
"""The files parsed last, least recently used first."""


def checkcache() -> None:
    """Look again at the source files on disk (once per plan): edited files are parsed anew."""
    linecache.checkcache()


def _parsed_file(filename: str, module_globals: Any = None) -> _ParsedFile | None:
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return None
    cached = _parsed.get(filename)
    if cached is not None and cached[0] is lines:
        _parsed.move_to_end(filename)
        return cached[1]
    try:
        parsed: _ParsedFile | None = _ParsedFile("".join(lines))
    except (SyntaxError, ValueError):
        parsed = None
    _parsed[filename] = (lines, parsed)
    _parsed.move_to_end(filename)
    while len(_parsed) > _PARSED_FILES:
        _parsed.popitem(last=False)
    return parsed


def _const_identity(const: Any) -> bytes:
    """A constant, independent of set order (which varies between processes)."""
    if isinstance(const, types.CodeType):
        return bytecode_identity(const)
    if isinstance(const, tuple):
        return b"(" + b",".join(_const_identity(item) for item in const) + b")"
    if isinstance(const, frozenset):
        return b"{" + b",".join(sorted(_const_identity(item) for item in const)) + b"}"
    return repr(const).encode()


def bytecode_identity(code: types.CodeType, docstring: str | None = None) -> bytes:
    """What a code object does, without line numbers: its instructions, names and constants
    (the docstring of a function left out)."""
    consts = list(code.co_consts)
    documented = not code.co_name.startswith("<") and consts and isinstance(consts[0], str)
    if documented or (docstring is not None and consts and consts[0] == docstring):
        consts[0] = None
    names = (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    parts = [code.co_code, repr(names).encode()]
    parts.extend(_const_identity(const) for const in consts)
    return b"\0".join(parts)


_function_hashes: weakref.WeakKeyDictionary[types.FunctionType, tuple[Any, Any, str]] = (
    weakref.WeakKeyDictionary()
)


def function_hash(fn: types.FunctionType) -> str:
    """ "bytecode:<hash>" of what the function does: its instructions, names and constants,
    which comments, formatting, docstrings and decorators do not change. Computed once per
    function object (and code object)."""
    cached = _function_hashes.get(fn)
    if cached is None or cached[0] is not fn.__code__ or cached[1] is not fn.__doc__:
        found = "bytecode:" + digest(bytecode_identity(fn.__code__, fn.__doc__))
        cached = _function_hashes[fn] = (fn.__code__, fn.__doc__, found)
    return cached[2]


def _class_source(cls: type) -> tuple[_ParsedFile, str] | None:
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    parsed = _parsed_file(filename, vars(module)) if filename else None
    return None if parsed is None else (parsed, filename or "")


def class_body_code(cls: type) -> types.CodeType | None:
    """The code of a module holding only the class's (normalised) definition: what evaluates
    its bases, decorators and body. None without its source."""
    found = _class_source(cls)
    if found is None:
        return None
    parsed, filename = found
    node = parsed.node(cls.__qualname__)
    if node is None:
        return None
    return compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")


def class_hash(cls: type, methods: list[types.FunctionType]) -> str:
    """ "source:<hash>" of the class's normalised source, else the hash of its methods' code."""
    found = _class_source(cls)
    source = None if found is None else found[0].hash_of(cls.__qualname__)
    if source is not None:
        return "source:" + source
    codes = b"\1".join(bytecode_identity(method.__code__) for method in methods)
    return "bytecode:" + digest(cls.__qualname__.encode() + b"\1" + codes)


def imported_names(module: types.ModuleType) -> dict[str, tuple[str, int, str]]:
    """The names the module binds with module-level `from ... import` statements."""
    filename = getattr(module, "__file__", None)
    parsed = _parsed_file(filename, vars(module)) if filename else None
    return {} if parsed is None else parsed.imported_names()


def module_hash(module: types.ModuleType) -> str:
    """ "source:<hash>" of the module's normalised source, "unknown" without it."""
    filename = getattr(module, "__file__", None)
    parsed = _parsed_file(filename, vars(module)) if filename else None
    return "unknown" if parsed is None else "source:" + parsed.module_hash()
