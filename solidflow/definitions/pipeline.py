"""Pipelines: a graph of solids and the modes it can run in."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from solidflow.definitions.broken import deferring_definition_errors, defined
from solidflow.definitions.composite import CompositeSolidDefinition
from solidflow.definitions.composition import GraphBuilder
from solidflow.definitions.dependencies import Dependencies, dependency_body
from solidflow.definitions.graph import InputBinding, Node
from solidflow.definitions.mode import DEFAULT_MODE, Mode
from solidflow.definitions.solid import check_name
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineDefinition:
    """A named graph of solids (nodes in wiring order) and its modes.

    `composites` are the composite solids placed in it by (dotted) name, and
    `composite_outputs` where each of their outputs comes from (an inner solid's output).
    """

    name: str
    nodes: Mapping[str, Node]
    composites: Mapping[str, CompositeSolidDefinition]
    modes: tuple[Mode, ...]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    fn: Callable[..., Any] | None = None
    composite_outputs: Mapping[str, Mapping[str, InputBinding]] = field(default_factory=dict)
    broken_modes: Mapping[str, str] = field(default_factory=dict)
    """Modes set aside while solidflow loaded the module (see `broken`), with their errors."""

    def mode(self, name: str | None) -> Mode:
        """The mode called `name`; without a name, the default mode (KeyError if none)."""
        if name is None:
            default = self.default_mode
            if default is None:
                raise KeyError(name)
            return default
        for mode in self.modes:
            if mode.name == name:
                return mode
        raise KeyError(name)

    @property
    def default_mode(self) -> Mode | None:
        """The mode a run uses without `mode=`: the only one, or the one named "default"."""
        if len(self.modes) == 1 and not self.broken_modes:
            return self.modes[0]
        return next((mode for mode in self.modes if mode.name == DEFAULT_MODE), None)

    @property
    def mode_names(self) -> list[str]:
        return [mode.name for mode in self.modes]

    def upstream(self) -> dict[str, list[str]]:
        """Each node's name mapped to the names of the nodes it reads from."""
        return {name: node.upstream_nodes() for name, node in self.nodes.items()}

    @classmethod
    def from_dependencies(
        cls,
        name: str,
        solids: Sequence[Any],
        dependencies: Dependencies | None = None,
        modes: Sequence[Mode] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> PipelineDefinition:
        """A pipeline built from data, as Dagster spells it: `dependencies` maps a solid name
        (or `SolidInvocation(name, alias=...)`) to `{input: DependencyDefinition(solid,
        output)}` or `MultiDependencyDefinition([...])` for a list input. Solids that the
        dependencies never mention are used once under their own name."""
        check_name(name, "pipeline")

        def build() -> PipelineDefinition:
            body = dependency_body(f"pipeline '{name}'", solids, dependencies or {})
            return _build(name, body, description, modes, tags, fn=None)

        return defined("pipeline", name, build)  # type: ignore[return-value]


def _broken_modes(name: str, modes: Sequence[Mode], nodes: Mapping[str, Node]) -> dict[str, str]:
    """The modes that miss a resource a solid requires, with the error; raises it at once
    unless definition errors are deferred and another mode is sound."""
    seen: set[str] = set()
    broken: dict[str, str] = {}
    for mode in modes:
        if not isinstance(mode, Mode):
            raise DefinitionError(f"pipeline '{name}': modes must be Mode objects, got {mode!r}")
        if mode.name in seen:
            raise DefinitionError(f"pipeline '{name}' has two modes named '{mode.name}'")
        seen.add(mode.name)
        for node in nodes.values():
            missing = sorted(node.solid.required_resource_keys - set(mode.resources))
            if missing and mode.name not in broken:
                provided = ", ".join(sorted(mode.resources)) or "none"
                broken[mode.name] = (
                    f"solid '{node.name}' requires resource '{missing[0]}', which mode "
                    f"'{mode.name}' of pipeline '{name}' does not provide (it provides: {provided})"
                )
    if broken and (not deferring_definition_errors() or len(broken) == len(modes)):
        raise DefinitionError(next(iter(broken.values())))
    return broken


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
        return defined("pipeline", pipeline_name, lambda: build(func, pipeline_name))  # type: ignore[return-value]

    def build(func: Callable[..., Any], pipeline_name: str) -> PipelineDefinition:
        check_name(pipeline_name, "pipeline")
        if inspect.signature(func).parameters:
            raise DefinitionError(f"pipeline '{pipeline_name}': the body takes no parameters")
        return _build(
            pipeline_name, func, description or inspect.getdoc(func), modes, tags, fn=func
        )

    return decorate(fn) if fn is not None else decorate


def _build(
    name: str,
    body: Callable[[], Any],
    description: str | None,
    modes: Sequence[Mode] | None,
    tags: Mapping[str, str] | None,
    fn: Callable[..., Any] | None,
) -> PipelineDefinition:
    builder = GraphBuilder(f"pipeline '{name}'")
    builder.run(body)
    if not builder.nodes:
        raise DefinitionError(f"pipeline '{name}' wires no solids")
    pipeline_modes = tuple(modes) if modes else (Mode(DEFAULT_MODE),)
    broken = _broken_modes(name, pipeline_modes, builder.nodes)
    return PipelineDefinition(
        name=name,
        nodes=dict(builder.nodes),
        composites=dict(builder.composites),
        composite_outputs=dict(builder.composite_outputs),
        modes=tuple(mode for mode in pipeline_modes if mode.name not in broken),
        description=description,
        tags=dict(tags or {}),
        fn=fn,
        broken_modes=broken,
    )
