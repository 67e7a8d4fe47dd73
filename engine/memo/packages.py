"""Where code comes from: user code (fingerprinted by its source), an installed library
(seen by its package version), or Python's standard library and builtins (not seen)."""

from __future__ import annotations

import enum
import functools
import importlib.metadata
import os
import re
import site
import sys
import sysconfig
from types import ModuleType

_TARGET_MODULE = re.compile(r"solidflow_target_(?P<stem>.+)_[0-9a-f]{10}")
"""The names under which `solidflow.engine.run.targets` imports pipeline files."""
_FRAMEWORK = "solidflow"


class Origin(enum.Enum):
    USER = "user"
    LIBRARY = "library"
    STANDARD = "standard"


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots)


@functools.cache
def file_origin(filename: str) -> Origin:
    """USER unless the file lies in the standard library or an installed package."""
    if filename.startswith("<"):  # code compiled from a string
        return Origin.USER
    return (
        Origin.LIBRARY if os.path.realpath(filename).startswith(_library_roots()) else Origin.USER
    )


def module_origin(name: str | None, filename: str | None = None) -> Origin:
    """Where the module `name` comes from (judged by `filename` when it is not imported)."""
    top = (name or "").partition(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return Origin.STANDARD
    if top == _FRAMEWORK:
        return Origin.LIBRARY
    if name == "__main__":
        return Origin.USER
    module = sys.modules.get(name or "")
    path = getattr(module, "__file__", None) if module is not None else filename
    if path is not None:
        return file_origin(path)
    return Origin.STANDARD if name in sys.builtin_module_names else Origin.USER


@functools.lru_cache(maxsize=4096)
def display_name(module_name: str | None) -> str:
    """How a user module is named in keys and messages: its name, the file's stem for a
    pipeline file loaded as a target or run as a script."""
    if not module_name:
        return "<unknown>"
    match = _TARGET_MODULE.fullmatch(module_name)
    if match:
        return match.group("stem")
    if module_name == "__main__":
        path = getattr(sys.modules.get("__main__"), "__file__", None)
        return os.path.splitext(os.path.basename(path))[0] if path else "__main__"
    return module_name


def package_name(module_name: str) -> str:
    """The top-level package a library module belongs to."""
    return module_name.partition(".")[0]


@functools.cache
def _distribution_versions() -> dict[str, str]:
    found = {}
    for top, names in importlib.metadata.packages_distributions().items():
        try:
            found[top] = importlib.metadata.version(names[0])
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


@functools.cache
def package_version(top: str) -> str:
    """The version of the installed package `top` (as imported, when it says), else "unknown"."""
    module: ModuleType | None = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version(top)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return _distribution_versions().get(top, "unknown")
