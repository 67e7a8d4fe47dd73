"""Executors run the steps of a run; they are found by name (`EXECUTORS`), and an executor's
engine is imported only when a run uses it."""

from __future__ import annotations

from solidflow.engine.executors.base import EXECUTORS, Executor, RunSpec

__all__ = ["EXECUTORS", "Executor", "RunSpec"]
