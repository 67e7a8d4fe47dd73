"""Exports of a package that are imported when first used (PEP 562): importing the package
(as the `solidflow` command does when it starts) loads only the modules that are asked for.

The package names its exports once, as the imports of an `if typing.TYPE_CHECKING:` block (which
type checkers and readers see); `lazy_exports` reads that block from the package's source.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _exported(source: str) -> dict[str, str]:
    """The module each name is imported from in the `if TYPE_CHECKING:` blocks of `source`."""
    found: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in _TYPE_CHECKING:
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = statement.module
    return found


def lazy_exports(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`, which import each name of its
    `if TYPE_CHECKING:` block when it is first read (then keep it in the package)."""
    namespace = vars(sys.modules[package])
    where: dict[str, str] = {}

    def module_of(name: str) -> str | None:
        if not where:
            where.update(_exported(Path(namespace["__file__"]).read_text()))
        return where.get(name)

    def __getattr__(name: str) -> Any:
        module = module_of(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        module_of("")
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
