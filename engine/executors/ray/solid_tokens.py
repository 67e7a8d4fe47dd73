"""The numbers that step-worker actors know solids by: a solid is shipped to a worker once,
then steps name it by its token."""

from __future__ import annotations

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.executors.ray.shipping import register_user_modules

_TOKENS: dict[int, tuple[SolidDefinition, int]] = {}
_SOLIDS: dict[int, SolidDefinition] = {}


def token_of(solid: SolidDefinition) -> int:
    """A number for `solid` that step workers know it by (kept for the driver's life)."""
    found = _TOKENS.get(id(solid))
    if found is not None and found[0] is solid:
        return found[1]
    register_user_modules(solid)
    token = len(_SOLIDS)
    _TOKENS[id(solid)] = (solid, token)
    _SOLIDS[token] = solid
    return token


def solid_of(token: int) -> SolidDefinition:
    """The solid that `token_of` numbered `token`."""
    return _SOLIDS[token]
