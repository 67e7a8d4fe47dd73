"""Modes: named sets of resources (local, test, prod) swapped without touching solids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from solidflow.definitions.resource import ResourceDefinition, as_resource_definition
from solidflow.errors import DefinitionError

DEFAULT_MODE = "default"


@dataclass(frozen=True, slots=True)
class Mode:
    """A name and the resources solids reach through `context.resources` in that mode.

    A resource value may be a ResourceDefinition or a plain object (used as is).
    """

    name: str = DEFAULT_MODE
    resources: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise DefinitionError(f"mode name {self.name!r} must be an identifier")
        for key in self.resources:
            if not key.isidentifier():
                raise DefinitionError(
                    f"mode '{self.name}': resource key {key!r} must be an identifier"
                )

    def resource_definitions(self) -> dict[str, ResourceDefinition]:
        return {key: as_resource_definition(value) for key, value in self.resources.items()}
