"""Strongly typed config: solids and resources declare a Config subclass (a pydantic model),
or a plain annotation such as `str` or `list[int]` for config that is a single value."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter


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


def config_schema_problem(annotation: Any) -> str | None:
    """Why `annotation` cannot describe config, or None when it can: a Config subclass, or an
    annotation whose values pydantic validates and describes in JSON Schema (`str`,
    `list[int]`, `dict[str, float]`, `Optional[int]`, `Literal["a", "b"]`)."""
    if is_config_class(annotation):
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"{annotation.__name__} is a pydantic model but not a Config subclass"
    try:
        _adapter(annotation).json_schema()
    except Exception as error:  # pydantic raises several kinds for unusable annotations
        return f"{annotation!r} is not a config type ({type(error).__name__})"
    return None


@functools.lru_cache(maxsize=256)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def config_required(schema: Any) -> bool:
    """Whether config of this schema must be given: a model with a required field, or a
    scalar annotation that does not accept None."""
    if is_config_class(schema):
        return any(info.is_required() for info in schema.model_fields.values())
    try:
        _adapter(schema).validate_python(None)
    except Exception:
        return True
    return False


def validate_config(schema: Any, value: Any) -> Any:
    """`value` validated against `schema`; raises pydantic's ValidationError."""
    if is_config_class(schema):
        return value if isinstance(value, schema) else schema.model_validate(value)
    return _adapter(schema).validate_python(value)


def plain_config(value: Any) -> Any:
    """Validated config as plain JSON data (for keys, records and bound config)."""
    return _adapter(Any).dump_python(value, mode="json")
