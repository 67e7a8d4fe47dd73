"""Registries of named plug-ins (codecs, step launchers, option checks...): each is found
through the entry points of a group, registered in code, or named by its import path
("package.module:attribute"), and loaded on first need.

A package adds plug-ins by declaring entry points, for example in its pyproject.toml:

    [project.entry-points."solidflow.codecs"]
    my_points = "my_package.codecs:POINT_CODEC"
"""

from __future__ import annotations

import importlib
import threading
import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownPlugin(LookupError):
    """A registry has nothing under the name asked for."""


def load_object(path: str) -> Any:
    """The object at `path`, "package.module:attribute" (the attribute may be dotted)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{path!r} is not an import path of the form 'package.module:name'")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


class Registry(Generic[T]):
    """Plug-ins of one kind by name: those registered in code and the entry points of
    `group`, each entry point imported only when it is first needed. `what` names the kind
    in messages ("codec", "step launcher")."""

    def __init__(self, group: str, what: str) -> None:
        self.group = group
        self.what = what
        self._lock = threading.RLock()
        self._unloaded: dict[str, EntryPoint] | None = None  # listed lazily, then loaded
        self._from_entry_points: dict[str, T] = {}
        self._registered: dict[str, T] = {}
        self.version = 0
        """Counts the changes of the registry's contents: what is derived from them is stale
        once it differs."""

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._unloaded is None:
            listed = entry_points(group=self.group)
            self._unloaded = {entry.name: entry for entry in listed}
        return self._unloaded

    def _load(self, name: str) -> T:
        entry = self._entry_points().pop(name)
        item: T = entry.load()
        self._from_entry_points[name] = item
        self.version += 1
        return item

    def register(self, name: str, item: T) -> T:
        """Register `item` under `name`, in place of an entry point or plug-in of that name."""
        with self._lock:
            self._entry_points().pop(name, None)
            self._from_entry_points.pop(name, None)
            self._registered[name] = item
            self.version += 1
        return item

    def unregister(self, name: str) -> None:
        """Remove what is registered under `name` (in code or by an entry point)."""
        with self._lock:
            self._entry_points().pop(name, None)
            self._from_entry_points.pop(name, None)
            self._registered.pop(name, None)
            self.version += 1

    def names(self) -> list[str]:
        """Every name the registry knows, without loading any entry point."""
        with self._lock:
            return sorted({*self._entry_points(), *self._from_entry_points, *self._registered})

    def find(self, name: str) -> T | None:
        """The plug-in called `name`, or None; an entry point that fails to load raises."""
        with self._lock:
            if name in self._registered:
                return self._registered[name]
            if name in self._from_entry_points:
                return self._from_entry_points[name]
            if name not in self._entry_points():
                return None
            entry = self._entry_points()[name]
            try:
                return self._load(name)
            except Exception as error:
                raise UnknownPlugin(
                    f"{self.what} '{name}' ({entry.value}, entry point of {self.group}) "
                    f"could not be loaded: {type(error).__name__}: {error}"
                ) from error

    def get(self, name: str) -> T:
        """The plug-in called `name`, or the object at the import path `name`
        ("package.module:attribute"); UnknownPlugin lists the known names."""
        found = self.find(name)
        if found is not None:
            return found
        if ":" in name:
            try:
                return load_object(name)
            except (ImportError, AttributeError, ValueError) as error:
                raise UnknownPlugin(
                    f"{self.what} '{name}' cannot be imported: {type(error).__name__}: {error}"
                ) from error
        known = ", ".join(self.names()) or "none"
        raise UnknownPlugin(f"unknown {self.what} '{name}'; available: {known}")

    def items(self) -> dict[str, T]:
        """Every plug-in by name, loading the entry points not loaded yet. An entry point
        that fails to load is left out with a warning (a broken plug-in stops no run)."""
        with self._lock:
            for name, entry in list(self._entry_points().items()):
                try:
                    self._load(name)
                except Exception as error:
                    warnings.warn(
                        f"solidflow: {self.what} '{name}' ({entry.value}, entry point of "
                        f"{self.group}) could not be loaded and is ignored: "
                        f"{type(error).__name__}: {error}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
            return {**self._from_entry_points, **self._registered}
