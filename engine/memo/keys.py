"""Memoization keys: a step key changes whenever anything that could change its outputs does.

Step key = sha256 of: the solid's name in the pipeline, its code (and every function, class,
module-level value and library it reaches), its canonical config, the code and config of the
resources it requires, the keys of all its inputs, and its data version. Output key =
sha256(step key, output name).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from solidflow.definitions.config import plain_config
from solidflow.definitions.resource import PlainObject, ResourceDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.memo.code import CodeScanner
from solidflow.engine.memo.parts import CodeFingerprint
from solidflow.engine.memo.values import Canonical, Unfingerprintable, packed, value_digest

KEY_RECIPE_VERSION = 2
"""Changes whenever keys are computed differently; lineages record it."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def declared_version(version: str) -> CodeFingerprint:
    """The code of a solid or resource that declares `version=`: nothing else is looked at."""
    return CodeFingerprint(version=f"version:{version}", parts={}, unfingerprintable={})


def _classes(annotation: Any) -> Iterator[type]:
    """The classes an annotation names (`list[Order]` names list and Order)."""
    if isinstance(annotation, type):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _classes(argument)


def solid_code(
    solid: SolidDefinition, scanner: CodeScanner, loaders: Sequence[Any] = ()
) -> CodeFingerprint:
    """`version=` when the solid declares one, else its function and all it reaches,
    including the classes its inputs are annotated with (whose methods it may call) and the
    functions of the type `loaders` that build its inputs."""
    if solid.version is not None:
        return declared_version(solid.version)
    annotated = [cls for input_def in solid.inputs for cls in _classes(input_def.annotation)]
    return scanner.function(solid.fn, also=[*annotated, *loaders])


def resource_code(
    key: str, definition: ResourceDefinition, scanner: CodeScanner
) -> CodeFingerprint:
    """`version=` when the resource declares one, the object given as the resource, else
    its function and all it reaches."""
    if definition.version is not None:
        return declared_version(definition.version)
    if isinstance(definition.fn, PlainObject):
        return scanner.value(definition.fn.value, f"resource '{key}'")
    return scanner.function(definition.fn)


def canonical_config(config: Any) -> str:
    """The config (a Config model or a scalar value) as sorted, compact JSON ("null" without
    config)."""
    return json.dumps(plain_config(config), sort_keys=True, separators=(",", ":"))


def fingerprint(value: Any) -> str:
    """A content hash of a value given in run_config; values that cannot be hashed get a random
    fingerprint, so they never match a stored output (a forced miss, never a false hit)."""
    try:
        return "value:" + value_digest(Canonical().form(value))
    except Unfingerprintable:
        return "unhashable:" + secrets.token_hex(16)


def output_key(memo_key: str, output: str) -> str:
    """The key of output `output` of the step whose memo key is `memo_key`."""
    return _digest(f"{memo_key}/{output}".encode())


def lineage_key(lineage: Mapping[str, Any]) -> str:
    """The step key of a lineage in its `StepLineage.as_dict` form."""
    return _digest(packed(lineage))


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceLineage:
    """What a required resource adds to a step key: its code and its config."""

    code_version: str
    code: Mapping[str, str] = field(default_factory=dict)
    config: str = "null"

    def as_dict(self) -> dict[str, Any]:
        return {"code_version": self.code_version, "code": dict(self.code), "config": self.config}


@dataclass(frozen=True, slots=True, kw_only=True)
class StepLineage:
    """What a step key is made of; kept with the step's events to explain why a step runs.

    Args:
        solid: the solid's name in the pipeline.
        code_version: the fingerprint of the solid's function (or its declared version).
        code: the fingerprint of every function, class, value and library it reaches, by
            name (see `solidflow.engine.memo.code`).
        config: the canonical config.
        resources: what each required resource adds, by resource key.
        inputs: the key of each input (a tuple of keys for fan-in).
        data_version: what the solid's `data_version` said, if it has one.
    """

    solid: str
    code_version: str
    code: Mapping[str, str] = field(default_factory=dict)
    config: str
    resources: Mapping[str, ResourceLineage] = field(default_factory=dict)
    inputs: Mapping[str, str | tuple[str, ...]]
    data_version: str | None

    @property
    def memo_key(self) -> str:
        return lineage_key(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipe": KEY_RECIPE_VERSION,
            "solid": self.solid,
            "code_version": self.code_version,
            "code": dict(sorted(self.code.items())),
            "config": self.config,
            "resources": {key: self.resources[key].as_dict() for key in sorted(self.resources)},
            "inputs": {
                name: list(key) if isinstance(key, tuple) else key
                for name, key in sorted(self.inputs.items())
            },
            "data_version": self.data_version,
        }
