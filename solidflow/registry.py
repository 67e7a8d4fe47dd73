"""Plug-ins found by name, and registries of plug-in objects (codecs, step launchers, option
checks...) that every layer can keep.

A plug-in is named by an entry point of an installed distribution in its kind's group, or by
a reference "package.module:attribute". A package adds plug-ins by declaring entry points,
for example in its pyproject.toml:

    [project.entry-points."solidflow.codecs"]
    my_points = "my_package.codecs:POINT_CODEC"

`PluginRegistry` holds objects, also registered in code, each entry point imported when it is
first needed; solidflow.engine.registry.Registry finds plug-in classes (executors, storages)
whose settings are known before they are imported.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from typing import Any, Generic, TypeVar

from solidflow.errors import SolidflowError

T = TypeVar("T")


class PluginError(SolidflowError, LookupError):
    """A plug-in that cannot be found or loaded; the message names it and says why."""


_ENTRY_POINTS: dict[tuple[str, ...], tuple[Any, dict[str, dict[str, list[str]]]]] = {}


def entry_points_of(group: str) -> dict[str, list[str]]:
    """The values of the entry points of `group` by name, in the distributions on sys.path
    (read once per sys.path: reading every distribution's metadata takes tens of ms)."""
    key = tuple(sys.path)
    cached = _ENTRY_POINTS.get(key)
    if cached is None:
        _ENTRY_POINTS.clear()
        import importlib.metadata  # here: a command that finds no plug-in starts without it

        cached = _ENTRY_POINTS[key] = (importlib.metadata.entry_points(), {})
    found, groups = cached
    names = groups.get(group)
    if names is None:
        names = groups[group] = {}
        for entry in found.select(group=group):
            values = names.setdefault(entry.name, [])
            if entry.value not in values:
                values.append(entry.value)
    return names


def load_object(reference: str) -> Any:
    """The object at `reference`, "package.module:attribute" (the attribute may be dotted)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{reference!r} is not a reference of the form 'package.module:name'")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


class PluginRegistry(Generic[T]):
    """Plug-in objects of one kind by name: those registered in code and the entry points of
    `group`, each entry point imported only when it is first needed. `what` names the kind
    in messages ("codec", "step launcher")."""

    def __init__(self, group: str, what: str) -> None:
        self.group = group
        self.what = what
        self._lock = threading.RLock()
        self._unloaded: dict[str, list[str]] | None = None  # listed lazily, then loaded
        self._from_entry_points: dict[str, T] = {}
        self._registered: dict[str, T] = {}
        self.version = 0
        """Counts the changes of the registry's contents: what is derived from them is stale
        once it differs."""

    def __repr__(self) -> str:
        return f"PluginRegistry({self.group!r})"

    def _entry_points(self) -> dict[str, list[str]]:
        if self._unloaded is None:
            self._unloaded = dict(entry_points_of(self.group))
        return self._unloaded

    def _load(self, name: str) -> T:
        """Load entry point `name` (forgotten if it fails); PluginError says why it failed."""
        values = self._entry_points().pop(name)
        if len(values) > 1:
            sources = ", ".join(sorted(values))
            raise PluginError(f"{self.what} '{name}' is registered more than once: {sources}")
        try:
            item: T = load_object(values[0])
        except Exception as error:
            raise PluginError(
                f"{self.what} '{name}' ({values[0]}, entry point of {self.group}) could not be "
                f"loaded: {type(error).__name__}: {error}"
            ) from error
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
        """The plug-in called `name`, or None; PluginError if its entry point fails to load."""
        with self._lock:
            if name in self._registered:
                return self._registered[name]
            if name in self._from_entry_points:
                return self._from_entry_points[name]
            if name not in self._entry_points():
                return None
            return self._load(name)

    def get(self, name: str) -> T:
        """The plug-in called `name`, or the object at the reference `name`
        ("package.module:attribute"); PluginError lists the known names."""
        found = self.find(name)
        if found is not None:
            return found
        if ":" in name:
            try:
                loaded: T = load_object(name)
            except (ImportError, AttributeError, ValueError) as error:
                raise PluginError(
                    f"{self.what} '{name}' cannot be imported: {type(error).__name__}: {error}"
                ) from error
            return loaded
        known = ", ".join(self.names()) or "none"
        raise PluginError(f"unknown {self.what} '{name}'; available: {known}")

    def items(self) -> dict[str, T]:
        """Every plug-in by name, loading the entry points not loaded yet. An entry point
        that fails to load is left out with a warning (a broken plug-in stops no run)."""
        with self._lock:
            for name in list(self._entry_points()):
                try:
                    self._load(name)
                except PluginError as error:
                    warnings.warn(
                        f"solidflow: {error}; it is ignored", RuntimeWarning, stacklevel=2
                    )
            return {**self._from_entry_points, **self._registered}
