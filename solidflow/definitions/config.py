"""Strongly typed config: solids and resources declare a Config subclass (a pydantic model)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Config(BaseModel):
    """Base class of solid and resource config; unknown keys are errors and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Drop the locals pydantic keeps from the defining function once the class is complete:
        they are no longer needed, and may not pickle (a class defined in a function next to
        a Spark session or a pool must still reach other processes with cloudpickle)."""
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_complete__:
            cls.__pydantic_parent_namespace__ = None


def is_config_class(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Config)
