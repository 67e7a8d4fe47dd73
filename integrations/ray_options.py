"""Per-solid Ray options, from `@solid(tags={"ray": {...}})`, checked when the solid is defined."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solidflow.definitions.solid_options import OptionTable, check_options
from solidflow.errors import DefinitionError


def _non_negative_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _resource_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(name, str) and _non_negative_number(amount) for name, amount in value.items()
    )


RAY_OPTIONS: OptionTable = {
    "num_cpus": (_non_negative_number, "a number of CPUs >= 0"),
    "num_gpus": (_non_negative_number, "a number of GPUs >= 0"),
    "memory": (_non_negative_number, "bytes of memory to reserve, >= 0"),
    "resources": (_resource_map, "a mapping of custom resource names to amounts >= 0"),
    "accelerator_type": (lambda value: isinstance(value, str), "an accelerator type name"),
    "runtime_env": (lambda value: isinstance(value, Mapping), "a runtime_env mapping"),
}


def check_ray_options(solid_name: str, options: Any) -> None:
    """Check `tags["ray"]` against RAY_OPTIONS; a DefinitionError names what is wrong."""
    if not isinstance(options, Mapping):
        raise DefinitionError(f"solid '{solid_name}': tags['ray'] must be a mapping of options")
    check_options(solid_name, "Ray", options, RAY_OPTIONS)
