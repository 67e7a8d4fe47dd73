"""What a running solid sees: `context.run_id`, `.config`, `.resources`, `.log` and more."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from solidflow.definitions.context import ExecutionContextBase
from solidflow.engine.events.records import EventType

Emit = Callable[[EventType, "str | None", "dict[str, Any]"], Any]

_python_logger = logging.getLogger("solidflow.solids")


class SolidLogger:
    """Log lines from solid and resource code; each becomes a LOG event of the run."""

    __slots__ = ("_emit", "_step")

    def __init__(self, emit: Emit, step: str | None) -> None:
        self._emit = emit
        self._step = step

    def _log(self, level: int, message: str) -> None:
        _python_logger.log(level, "%s: %s", self._step or "run", message)
        self._emit(
            EventType.LOG,
            self._step,
            {"level": logging.getLevelName(level), "message": str(message)},
        )

    def debug(self, message: str) -> None:
        self._log(logging.DEBUG, message)

    def info(self, message: str) -> None:
        self._log(logging.INFO, message)

    def warning(self, message: str) -> None:
        self._log(logging.WARNING, message)

    def error(self, message: str) -> None:
        self._log(logging.ERROR, message)


class Resources:
    """The resources a solid declared, as attributes (`context.resources.db`)."""

    def __init__(self, values: Mapping[str, Any], owner: str) -> None:
        self._values = dict(values)
        self._owner = owner

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("_values", {})
        if key in values:
            return values[key]
        if key.startswith("__"):
            raise AttributeError(key)
        raise AttributeError(
            f"{self.__dict__.get('_owner')} has no resource '{key}'; declare it with "
            f"required_resource_keys={{'{key}'}} (available: {', '.join(sorted(values)) or 'none'})"
        )

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __repr__(self) -> str:
        return f"Resources({', '.join(sorted(self._values))})"


def resource_values(resources: Resources) -> Mapping[str, Any]:
    """`resources` as a read-only mapping of key to resource."""
    return MappingProxyType(resources._values)


class SolidExecutionContext(ExecutionContextBase):
    """Passed as the first argument to solids that take a context (and to type loaders)."""

    __slots__ = (
        "config",
        "log",
        "pipeline_name",
        "resources",
        "retry_number",
        "run_id",
        "solid_name",
    )

    def __init__(
        self,
        *,
        run_id: str,
        pipeline_name: str,
        solid_name: str,
        config: Any,
        resources: Resources,
        log: SolidLogger,
        retry_number: int,
    ) -> None:
        self.run_id = run_id
        self.pipeline_name = pipeline_name
        self.solid_name = solid_name
        self.config = config
        self.resources = resources
        self.log = log
        self.retry_number = retry_number
