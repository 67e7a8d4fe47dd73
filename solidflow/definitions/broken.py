"""Definitions that failed while solidflow loaded their module.

When solidflow imports a module for a target (`load_pipeline`: the CLI, run drivers), a
solid, composite solid or pipeline that fails to define becomes a `BrokenDefinition` that
keeps its error, and a mode that misses a resource is set aside, so that the module's other
pipelines and the pipeline's other modes still load. The error is raised, naming the broken
thing, when it is asked for. Outside such a load (a module imported by your own code),
definitions raise at once.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from solidflow.errors import DefinitionError

_DEFERRED = contextvars.ContextVar("solidflow_definition_errors_deferred", default=False)

T = TypeVar("T")


@contextlib.contextmanager
def definition_errors_deferred() -> Iterator[None]:
    """While active, definitions that fail become BrokenDefinition objects instead of raising."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def deferring_definition_errors() -> bool:
    """Whether a failing definition is kept as broken rather than raised (see the module)."""
    return _DEFERRED.get()


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenDefinition:
    """A solid, composite solid or pipeline that failed to define; `error` says why.

    Using a broken solid in a pipeline body breaks that pipeline too."""

    kind: str
    name: str
    error: DefinitionError

    def fail(self) -> NoReturn:
        raise DefinitionError(str(self.error))

    def alias(self, name: str) -> NoReturn:
        self._used()

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._used()

    def _used(self) -> NoReturn:
        reason = str(self.error).removeprefix(f"{self.kind} '{self.name}': ")
        raise DefinitionError(f"uses {self.kind} '{self.name}', which failed to define: {reason}")


def defined(kind: str, name: str, build: Callable[[], T]) -> T | BrokenDefinition:
    """What `build` returns; while errors are deferred, a BrokenDefinition if it raises a
    DefinitionError (its message names the definition)."""
    if not deferring_definition_errors():
        return build()
    try:
        return build()
    except DefinitionError as error:
        named = f"{kind} '{name}'"
        if named not in str(error):
            error = DefinitionError(f"{named}: {error}")
        return BrokenDefinition(kind=kind, name=name, error=error)
