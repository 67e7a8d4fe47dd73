"""The context a solid receives: declared here, so that definitions recognise it; the engine
provides the implementation (solidflow.SolidExecutionContext)."""

from __future__ import annotations

from typing import Any

CONTEXT_PARAMETER_NAMES = frozenset({"context", "_context", "_"})
"""Names that make a solid's first parameter its context, as in Dagster."""


class ExecutionContextBase:
    """Base class of the context solids receive (run id, config, resources, log)."""

    __slots__ = ()


def is_context_parameter(name: str, annotation: Any) -> bool:
    """Whether a solid's first parameter is its context: by name, or by annotation."""
    if name in CONTEXT_PARAMETER_NAMES:
        return True
    return isinstance(annotation, type) and issubclass(annotation, ExecutionContextBase)
