"""Type loaders: how run_config builds a value of a type (Dagster's input hydration)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import config_schema_problem
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeLoader:
    """Builds a value from config: `fn(context, config)` receives the solid's context and the
    config validated against `config_schema` (a Config subclass, or a type such as `str`)."""

    config_schema: Any
    fn: Callable[[Any, Any], Any]

    def __post_init__(self) -> None:
        problem = config_schema_problem(self.config_schema)
        if problem is not None:
            raise DefinitionError(f"type loader {self.name!r}: config: {problem}")
        if not callable(self.fn):
            raise DefinitionError("a type loader needs a function fn(context, config)")

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", "loader")


def type_loader(config: Any) -> Callable[[Callable[[Any, Any], Any]], TypeLoader]:
    """Declare a type loader: `@type_loader(CsvConfig)` on `def load(context, config)`."""

    def decorate(fn: Callable[[Any, Any], Any]) -> TypeLoader:
        return TypeLoader(config_schema=config, fn=fn)

    return decorate
