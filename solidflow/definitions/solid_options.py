"""Per-solid options under a tag (`tags={"ray": {...}}`, `tags={"spark": {...}}`), checked
when the solid is defined by the check registered for the tag: with
`register_tag_options` or through the entry points of the group "solidflow.solid_tags",
loaded when a solid first has the tag. Tags nobody registered are free-form."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from solidflow.errors import DefinitionError
from solidflow.registry import PluginError, PluginRegistry

# Option name -> (a check of its value, what the value must be).
OptionTable = Mapping[str, tuple[Callable[[Any], bool], str]]

TagCheck = Callable[[str, Any], None]
"""Checks the options of a tag of the solid named by the first argument; raises a
DefinitionError naming what is wrong."""

TAG_CHECKS: PluginRegistry[TagCheck] = PluginRegistry("solidflow.solid_tags", "solid tag check")


def register_tag_options(tag: str, check: TagCheck) -> TagCheck:
    """Check `tags[tag]` of every solid defined from now on with `check`."""
    return TAG_CHECKS.register(tag, check)


def check_tags(solid_name: str, tags: Mapping[str, Any]) -> None:
    """Check each tag of solid `solid_name` that has a registered check."""
    for tag, options in tags.items():
        try:
            check = TAG_CHECKS.find(tag)
        except PluginError as error:
            raise DefinitionError(f"solid '{solid_name}': tags['{tag}']: {error}") from None
        if check is not None:
            check(solid_name, options)


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
