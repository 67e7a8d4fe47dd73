"""Plug-in classes found by name: executors, run launchers, storages and event logs
(solidflow.registry finds the entry points, and keeps the registries of plug-in objects).

A plug-in of a kind is named either by an entry point of an installed distribution, in the
kind's group (`solidflow.executors`, ...; solidflow declares its own in pyproject.toml), or by
a reference "package.module:Class". An entry point may name the class itself or a `Deferred`
that says where the class is, the settings it takes and the extra that installs what it
needs, so that its settings are known without importing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from solidflow.registry import PluginError, entry_points_of, load_object

if TYPE_CHECKING:
    from solidflow.definitions.config import Config

logger = logging.getLogger("solidflow")

T = TypeVar("T")

__all__ = ["Deferred", "PluginError", "Registry", "SchemaAt", "is_reference", "reference_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deferred:
    """A plug-in whose class is imported only when it is used.

    Args:
        implementation: where the class is, "package.module:Class".
        config_schema: the settings the plug-in takes, known without importing it.
        extra: the solidflow extra that installs the plug-in's dependencies, for the message
            given when they are missing.
    """

    implementation: str
    config_schema: type[Config] | None = None
    extra: str | None = None


class SchemaAt:
    """A plug-in class's `config_schema` that is imported when first read, from
    "package.module:Class", so that importing the plug-in does not import its settings'
    validation (a storage that reads runs, for instance)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference

    def __get__(self, instance: object, owner: type | None = None) -> type[Config]:
        schema: type[Config] = load_object(self.reference)
        return schema


def is_reference(name: str) -> bool:
    """Whether `name` is a "package.module:Class" reference rather than a registered name."""
    return ":" in name


def reference_of(cls: type) -> str:
    """The "package.module:Class" reference of `cls`."""
    return f"{cls.__module__}:{cls.__qualname__}"


class Registry(Generic[T]):
    """The plug-ins of one kind.

    Args:
        kind: what the plug-ins are, for messages ("executor").
        group: the entry point group that names them ("solidflow.executors").
        base: the class every plug-in of the kind derives from (T; an abstract class, so it is
            a plain `type` here and T is given explicitly: `Registry[Executor](...)`).
    """

    def __init__(self, kind: str, group: str, base: type) -> None:
        self.kind = kind
        self.group = group
        self.base = base

    def __repr__(self) -> str:
        return f"Registry({self.group!r})"

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(entry_points_of(self.group))

    def entry(self, name: str) -> type[T] | Deferred:
        """What `name` (a registered name or a "package.module:Class" reference) refers to,
        without importing a deferred plug-in's class.

        Raises:
            PluginError: `name` is not registered, or its entry point or module fails to load.
        """
        if is_reference(name):
            return self._checked(name, self._imported(name, name))
        values = entry_points_of(self.group).get(name)
        if not values:
            available = ", ".join(self.names()) or "none"
            raise PluginError(
                f"unknown {self.kind} '{name}'; available: {available} "
                '(or give a "package.module:Class")'
            )
        if len(values) > 1:
            sources = ", ".join(sorted(values))
            raise PluginError(f"{self.kind} '{name}' is registered more than once: {sources}")
        return self._checked(name, self._imported(name, values[0]))

    def config_schema(self, name: str) -> type[Config] | None:
        """The settings `name` takes (None if it takes none), without importing a deferred
        plug-in's class."""
        entry = self.entry(name)
        if isinstance(entry, Deferred):
            return entry.config_schema
        return getattr(entry, "config_schema", None)

    def config_schemas(self) -> dict[str, type[Config]]:
        """The settings of every registered plug-in that takes some; a plug-in that fails to
        load is left out (with a warning), so that it breaks only the runs that use it."""
        schemas = {}
        for name in self.names():
            try:
                schema = self.config_schema(name)
            except PluginError as error:
                logger.warning("%s", error)
                continue
            if schema is not None:
                schemas[name] = schema
        return schemas

    def load(self, name: str) -> type[T]:
        """The class `name` refers to, imported.

        Raises:
            PluginError: `name` is unknown, fails to load, or needs an extra not installed.
        """
        entry = self.entry(name)
        if not isinstance(entry, Deferred):
            return entry
        return self._class(name, self._imported(name, entry.implementation, entry.extra))

    def _imported(self, name: str, reference: str, extra: str | None = None) -> Any:
        try:
            return load_object(reference)
        except ModuleNotFoundError as error:
            if extra is not None:
                raise PluginError(
                    f"{self.kind} '{name}' needs {error.name}: pip install 'solidflow[{extra}]'"
                ) from None
            problem = f"no module named '{error.name}'"
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
        raise PluginError(f"{self.kind} '{name}' cannot be loaded from '{reference}': {problem}")

    def _checked(self, name: str, value: object) -> type[T] | Deferred:
        if isinstance(value, Deferred):
            return value
        return self._class(name, value)

    def _class(self, name: str, value: object) -> type[T]:
        if not (isinstance(value, type) and issubclass(value, self.base)):
            raise PluginError(
                f"{self.kind} '{name}' is {value!r}, not a subclass of {self.base.__name__}"
            )
        return cast("type[T]", value)
