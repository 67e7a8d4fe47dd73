"""Calling a solid or composite solid inside a @pipeline or @composite_solid body: the
innermost composition scope of the thread places it in the graph being built."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from solidflow.errors import DefinitionError


class CompositionScope(Protocol):
    """Where calls in a composition body are wired (see definitions.composition)."""

    def place(
        self, definition: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Place `definition` under `name`, wired to the call's arguments; returns what the
        call returns in the body (handles to its outputs)."""
        ...


class _ScopeStack(threading.local):
    def __init__(self) -> None:
        self.scopes: list[CompositionScope] = []


_stack = _ScopeStack()


def enter_scope(scope: CompositionScope) -> None:
    """Make `scope` the innermost scope of this thread until `leave_scope`."""
    _stack.scopes.append(scope)


def leave_scope() -> None:
    _stack.scopes.pop()


def current_scope(what: str) -> CompositionScope:
    """The innermost scope; a DefinitionError naming `what` outside any composition body."""
    if not _stack.scopes:
        raise DefinitionError(
            f"{what} was called outside a @pipeline or @composite_solid body; to run a solid "
            "on its own use execute_solid(...), or call its function as solid.fn(...)"
        )
    return _stack.scopes[-1]


class Invocation:
    """A solid or composite about to be placed in the graph under `name`."""

    def __init__(self, definition: Any, name: str) -> None:
        self.definition = definition
        self.name = name

    def alias(self, name: str) -> Invocation:
        return Invocation(self.definition, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        scope = current_scope(f"solid '{self.name}'")
        return scope.place(self.definition, self.name, args, kwargs)
