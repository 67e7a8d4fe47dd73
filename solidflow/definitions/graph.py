"""The wired graph of a pipeline: nodes and where each of their inputs comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.solid import SolidDefinition


@dataclass(frozen=True, slots=True)
class FromOutput:
    """The input takes output `output` of node `node`."""

    node: str
    output: str

    @property
    def sources(self) -> tuple[FromOutput, ...]:
        return (self,)


@dataclass(frozen=True, slots=True)
class FanIn:
    """The input takes a list made of several outputs, in order."""

    sources: tuple[FromOutput, ...]


@dataclass(frozen=True, slots=True)
class FromValue:
    """The input takes a fixed value (a composite input's default)."""

    value: Any

    @property
    def sources(self) -> tuple[FromOutput, ...]:
        return ()


InputBinding = FromOutput | FanIn | FromValue


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A solid placed in a pipeline under a unique (possibly dotted) name."""

    name: str
    solid: SolidDefinition
    inputs: Mapping[str, InputBinding]

    def upstream_nodes(self) -> list[str]:
        names = (source.node for binding in self.inputs.values() for source in binding.sources)
        return list(dict.fromkeys(names))
