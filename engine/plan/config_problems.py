"""The problems of run_config that pydantic reports, each as the path it is at and a message
that says how to put it right."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError


def _model_field(model: Any, key: str) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    for info in model.model_fields.values():
        if (info.alias or "") == key:
            return info
    return model.model_fields.get(key)


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    model: Any = root
    for key in loc:
        info = _model_field(model, str(key))
        if info is None:
            return None
        model = info.annotation
    return model


def _keys_of(model: Any) -> list[str]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _required_leaves(model: Any, path: str) -> list[str]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return [path]
    leaves = []
    for name, info in model.model_fields.items():
        if info.is_required():
            leaves.extend(_required_leaves(info.annotation, f"{path}.{info.alias or name}"))
    return leaves or [path]


def problems_of(
    error: ValidationError, root: type[BaseModel], hints: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Each problem pydantic found validating run_config against the model `root`, as (path,
    message): an unknown key lists the valid keys there, and a missing section lists each
    required key under it, with its hint from `hints` (by path)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(str(part) for part in item["loc"])
        path = ".".join(loc)
        if item["type"] == "extra_forbidden":
            valid = ", ".join(_keys_of(_model_at(root, loc[:-1]))) or "none"
            problems.append((path, f"unknown key '{loc[-1]}' (valid keys here: {valid})"))
        elif item["type"] == "missing":
            for leaf in _required_leaves(_model_at(root, loc), path):
                hint = hints.get(leaf)
                problems.append((leaf, "Field required" + (f" ({hint})" if hint else "")))
        else:
            problems.append((path, item["msg"]))
    return problems
