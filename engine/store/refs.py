"""Handles to stored outputs, passed where a value would be and loaded where it is needed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredRef:
    """A handle to the output stored under `key` in the run's intermediate store."""

    key: str
