"""Executors by name."""

from __future__ import annotations

from solidflow.engine.executors.base import Executor, RunSpec
from solidflow.engine.executors.in_process import InProcessExecutor

EXECUTORS: dict[str, type[Executor]] = {InProcessExecutor.name: InProcessExecutor}

__all__ = ["EXECUTORS", "Executor", "InProcessExecutor", "RunSpec"]
