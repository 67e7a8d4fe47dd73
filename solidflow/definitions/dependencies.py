"""Pipelines from data: a dependency dict, spelled as in Dagster, wired by the same code as a
@pipeline body, so that it raises the same definition errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from solidflow.definitions.composition import MultipleOutputs, OutputHandle
from solidflow.definitions.events import DEFAULT_OUTPUT
from solidflow.definitions.graph import FromOutput
from solidflow.definitions.invocation import Invocation
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class SolidInvocation:
    """A use of solid `name` in a dependency dict, under `alias` (default: its name)."""

    name: str
    alias: str | None = None

    @property
    def node_name(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True, slots=True)
class DependencyDefinition:
    """An input wired to output `output` of the solid used under the name `solid`."""

    solid: str
    output: str = DEFAULT_OUTPUT
    description: str | None = None


@dataclass(frozen=True, slots=True)
class MultiDependencyDefinition:
    """A list input wired to several outputs, in order (fan-in)."""

    dependencies: Sequence[DependencyDefinition]


Dependencies = Mapping[
    "str | SolidInvocation", Mapping[str, "DependencyDefinition | MultiDependencyDefinition"]
]


def _invocations(
    owner: str, solids: Sequence[Any], dependencies: Dependencies
) -> dict[str, tuple[Any, Mapping[str, Any]]]:
    """Each use of a solid by node name: its definition and its dependencies. A solid that
    the dependencies never mention is used once under its own name."""
    definitions: dict[str, Any] = {}
    for definition in solids:
        name = getattr(definition, "name", None)
        if not callable(getattr(definition, "alias", None)) or name is None:
            raise DefinitionError(f"{owner}: {definition!r} is not a solid or composite solid")
        if name in definitions:
            raise DefinitionError(f"{owner}: two solids are named '{name}'")
        definitions[name] = definition
    uses: dict[str, tuple[Any, Mapping[str, Any]]] = {}
    used: set[str] = set()
    for key, inputs in dependencies.items():
        invocation = SolidInvocation(key) if isinstance(key, str) else key
        if not isinstance(invocation, SolidInvocation):
            raise DefinitionError(
                f"{owner}: dependency keys must be solid names or SolidInvocation, got {key!r}"
            )
        if invocation.name not in definitions:
            raise DefinitionError(
                f"{owner}: the dependencies use solid '{invocation.name}', which is not among "
                f"its solids ({', '.join(definitions) or 'none'})"
            )
        if invocation.node_name in uses:
            raise DefinitionError(
                f"{owner} uses the name '{invocation.node_name}' twice; give the second use "
                "another alias"
            )
        uses[invocation.node_name] = (definitions[invocation.name], inputs)
        used.add(invocation.name)
    for name, definition in definitions.items():
        if name not in used:
            uses.setdefault(name, (definition, {}))
    return uses


def _sources(inputs: Mapping[str, Any], where: str) -> list[DependencyDefinition]:
    sources = []
    for input_name, dependency in inputs.items():
        if isinstance(dependency, DependencyDefinition):
            sources.append(dependency)
        elif isinstance(dependency, MultiDependencyDefinition):
            sources.extend(dependency.dependencies)
        else:
            raise DefinitionError(
                f"input '{input_name}' of solid '{where}': expected a DependencyDefinition or "
                f"MultiDependencyDefinition, got {dependency!r}"
            )
    return sources


def _wiring_order(owner: str, uses: Mapping[str, tuple[Any, Mapping[str, Any]]]) -> list[str]:
    graph: dict[str, list[str]] = {}
    for name, (_, inputs) in uses.items():
        graph[name] = []
        for source in _sources(inputs, name):
            if source.solid not in uses:
                raise DefinitionError(
                    f"{owner}: solid '{name}' depends on '{source.solid}', which is not a solid "
                    f"of the pipeline (its solids: {', '.join(uses)})"
                )
            graph[name].append(source.solid)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise DefinitionError(f"{owner}: the dependencies form a cycle: {cycle}") from None


def _output(returned: object, dependency: DependencyDefinition) -> OutputHandle:
    if isinstance(returned, MultipleOutputs):
        handle: OutputHandle = getattr(returned, dependency.output)
        return handle
    names = []
    if isinstance(returned, OutputHandle) and isinstance(returned.binding, FromOutput):
        if returned.binding.output == dependency.output:
            return returned
        names.append(returned.binding.output)
    raise DefinitionError(
        f"solid '{dependency.solid}' has no output '{dependency.output}'; its outputs are "
        f"{', '.join(names) or 'none'}"
    )


def dependency_body(
    owner: str, solids: Sequence[Any], dependencies: Dependencies
) -> Callable[[], None]:
    """A composition body that wires `solids` as `dependencies` say."""
    uses = _invocations(owner, solids, dependencies)
    order = _wiring_order(owner, uses)

    def body() -> None:
        placed: dict[str, Any] = {}
        for name in order:
            definition, inputs = uses[name]
            arguments: dict[str, Any] = {}
            for input_name, dependency in inputs.items():
                if isinstance(dependency, MultiDependencyDefinition):
                    arguments[input_name] = [
                        _output(placed[item.solid], item) for item in dependency.dependencies
                    ]
                else:
                    arguments[input_name] = _output(placed[dependency.solid], dependency)
            placed[name] = Invocation(definition, name)(**arguments)

    return body
