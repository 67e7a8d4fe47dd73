"""Executors by name; an executor's engine is imported only when a run uses it."""

from __future__ import annotations

import importlib

from solidflow.definitions.config import Config
from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.configs import InProcessConfig, RayConfig
from solidflow.errors import ConfigError

EXECUTOR_CONFIGS: dict[str, type[Config]] = {"in_process": InProcessConfig, "ray": RayConfig}
_CLASSES = {
    "in_process": ("solidflow.engine.executors.in_process", "InProcessExecutor", None),
    "ray": ("solidflow.engine.executors.ray.executor", "RayExecutor", "ray"),
}


def executor_class(name: str) -> type[Executor]:
    """The executor called `name`; ConfigError if it is unknown or its engine is missing."""
    if name not in _CLASSES:
        raise ConfigError(
            [("execution", f"unknown executor '{name}'; available: {', '.join(_CLASSES)}")]
        )
    module, attribute, extra = _CLASSES[name]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as error:
        raise ConfigError(
            [
                (
                    "execution",
                    f"executor '{name}' needs {error.name}: pip install 'solidflow[{extra}]'",
                )
            ]
        ) from None


__all__ = ["EXECUTOR_CONFIGS", "Executor", "RunSpec", "executor_class"]
