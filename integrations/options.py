"""Checking per-solid option tags (`tags={"ray": {...}}`, `tags={"spark": {...}}`) against a
table of the valid options, when the solid is defined."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from solidflow.errors import DefinitionError

# Option name -> (a check of its value, what the value must be).
OptionTable = Mapping[str, tuple[Callable[[Any], bool], str]]


def check_options(
    solid_name: str, kind: str, options: Mapping[str, Any], table: OptionTable
) -> None:
    """Raise a DefinitionError naming the first unknown option (listing the valid ones) or
    the first invalid value among `options`; `kind` names the options in messages."""
    for name, value in options.items():
        if name not in table:
            raise DefinitionError(
                f"solid '{solid_name}': unknown {kind} option '{name}'; valid options: "
                + ", ".join(table)
            )
        valid, expected = table[name]
        if not valid(value):
            raise DefinitionError(
                f"solid '{solid_name}': {kind} option '{name}' must be {expected}, got {value!r}"
            )
