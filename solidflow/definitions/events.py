"""What a solid body may yield or return besides plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_OUTPUT = "result"


@dataclass(frozen=True, slots=True)
class Output:
    """A value for one of the solid's outputs (`name` defaults to "result")."""

    value: Any
    name: str = DEFAULT_OUTPUT
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Materialization:
    """A record that the solid wrote a durable asset (a table, a file, a model)."""

    asset_key: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """The outcome of a data-quality check made inside a solid."""

    success: bool
    label: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
