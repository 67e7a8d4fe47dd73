"""Pipelines: a graph of solids and the modes it can run in."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from solidflow.definitions.composite import CompositeSolidDefinition
from solidflow.definitions.composition import GraphBuilder
from solidflow.definitions.graph import Node
from solidflow.definitions.mode import DEFAULT_MODE, Mode
from solidflow.definitions.solid import check_name
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineDefinition:
    """A named graph of solids (nodes in wiring order) and its modes."""

    name: str
    nodes: Mapping[str, Node]
    composites: Mapping[str, CompositeSolidDefinition]
    modes: tuple[Mode, ...]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    fn: Callable[..., Any] | None = None

    def mode(self, name: str | None) -> Mode:
        """The mode called `name`, or the first mode when `name` is None."""
        if name is None:
            return self.modes[0]
        for mode in self.modes:
            if mode.name == name:
                return mode
        raise KeyError(name)

    @property
    def mode_names(self) -> list[str]:
        return [mode.name for mode in self.modes]

    def upstream(self) -> dict[str, list[str]]:
        """Each node's name mapped to the names of the nodes it reads from."""
        return {name: node.upstream_nodes() for name, node in self.nodes.items()}


def _check_modes(name: str, modes: Sequence[Mode], nodes: Mapping[str, Node]) -> None:
    seen: set[str] = set()
    for mode in modes:
        if not isinstance(mode, Mode):
            raise DefinitionError(f"pipeline '{name}': modes must be Mode objects, got {mode!r}")
        if mode.name in seen:
            raise DefinitionError(f"pipeline '{name}' has two modes named '{mode.name}'")
        seen.add(mode.name)
        for node in nodes.values():
            missing = sorted(node.solid.required_resource_keys - set(mode.resources))
            if missing:
                provided = ", ".join(sorted(mode.resources)) or "none"
                raise DefinitionError(
                    f"solid '{node.name}' requires resource '{missing[0]}', which mode "
                    f"'{mode.name}' of pipeline '{name}' does not provide (it provides: {provided})"
                )


@overload
def pipeline(fn: Callable[..., Any]) -> PipelineDefinition: ...
@overload
def pipeline(
    *,
    name: str | None = None,
    description: str | None = None,
    modes: Sequence[Mode] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], PipelineDefinition]: ...


def pipeline(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    modes: Sequence[Mode] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Any:
    """Declare a pipeline: the body wires solids by calling them; it runs once, now."""

    def decorate(func: Callable[..., Any]) -> PipelineDefinition:
        pipeline_name = func.__name__ if name is None else name
        check_name(pipeline_name, "pipeline")
        if inspect.signature(func).parameters:
            raise DefinitionError(f"pipeline '{pipeline_name}': the body takes no parameters")
        builder = GraphBuilder(f"pipeline '{pipeline_name}'")
        builder.run(func)
        if not builder.nodes:
            raise DefinitionError(f"pipeline '{pipeline_name}' wires no solids")
        pipeline_modes = tuple(modes) if modes else (Mode(DEFAULT_MODE),)
        _check_modes(pipeline_name, pipeline_modes, builder.nodes)
        return PipelineDefinition(
            name=pipeline_name,
            nodes=dict(builder.nodes),
            composites=dict(builder.composites),
            modes=pipeline_modes,
            description=description or inspect.getdoc(func),
            tags=dict(tags or {}),
            fn=func,
        )

    return decorate(fn) if fn is not None else decorate
