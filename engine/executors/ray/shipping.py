"""Sending solids' code to Ray workers."""

from __future__ import annotations

import contextlib
import sys

import ray.cloudpickle

from solidflow.definitions.solid import SolidDefinition


def register_user_modules(solid: SolidDefinition) -> None:
    """Ship the code of solids defined outside installed packages along with them."""
    module = sys.modules.get(getattr(solid.fn, "__module__", ""))
    path = getattr(module, "__file__", None) or ""
    if module is None or module.__name__ == "__main__" or "site-packages" in path:
        return
    with contextlib.suppress(ValueError):  # already registered, or a built-in module
        ray.cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]  # not annotated in Ray
