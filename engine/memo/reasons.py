"""Why a step runs: what changed in what its key is made of since the step last ran, said
precisely (`helper changed: pricing.discount`, `constant changed: queries.Q5`, `resource
changed: warehouse (mode prod -> dev)`); and the parts of a key, for people to read.

Lineages recorded by older versions of solidflow, or damaged ones, give a coarse reason,
never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.engine.memo.keys import KEY_RECIPE_VERSION
from solidflow.engine.memo.memoization import MemoKeys
from solidflow.engine.memo.parts import (
    CLASS,
    FUNCTION,
    MODULE,
    PACKAGE,
    UNFINGERPRINTABLE,
    VALUE,
    kind_of,
)
from solidflow.engine.store import OutputStatus
from solidflow.engine.store.records import Assessment


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunCause:
    """One reason why a step runs instead of taking its outputs from the store.

    Args:
        kind: "no_earlier_run", "key_recipe_changed" (an older solidflow ran it),
            "code_changed", "version_changed", "helper_changed", "class_changed",
            "constant_changed", "module_changed", "library_changed", "unfingerprintable",
            "config_changed", "resource_changed", "data_version_changed", "upstream_changed",
            "output_missing" or "output_corrupt".
        message: the reason in words, e.g. "helper changed: pricing.discount".
    """

    kind: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousRun:
    """How a step ran last time: its lineage as its events recorded it, and the run's mode."""

    lineage: Any
    mode: str | None


_CHANGED = {  # the kind of cause of a changed part, and its message alone and with others
    FUNCTION: ("helper_changed", "helper changed", "helpers changed"),
    CLASS: ("class_changed", "class changed", "classes changed"),
    VALUE: ("constant_changed", "constant changed", "constants changed"),
    MODULE: ("module_changed", "module changed", "modules changed"),
}
_OTHER = ("code_changed", "code changed", "code changed")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _version(fingerprint: Any) -> str:
    return str(fingerprint).partition(":")[2]


def _part_changes(before: Mapping[str, Any], after: Mapping[str, str]) -> list[RerunCause]:
    """What changed among the parts of some code (`code` of a lineage), parts of one kind
    together."""
    changed: dict[tuple[str, str, str], list[str]] = {}
    others = []
    for name, fingerprint in after.items():
        kind = kind_of(fingerprint)
        if kind == UNFINGERPRINTABLE:
            message = f"{name} cannot be fingerprinted"
            others.append(RerunCause(kind="unfingerprintable", message=message))
        elif name not in before or before[name] == fingerprint:
            continue
        elif kind == PACKAGE:
            message = f"library changed: {name} {_version(before[name])} -> {_version(fingerprint)}"
            others.append(RerunCause(kind="library_changed", message=message))
        else:
            changed.setdefault(_CHANGED.get(kind, _OTHER), []).append(name)
    grouped = [
        RerunCause(kind=kind, message=f"{(one, several)[len(names) > 1]}: {', '.join(names)}")
        for (kind, one, several), names in changed.items()
    ]
    return grouped + others


def _code_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[RerunCause]:
    """What changed in a solid's or resource's code: itself, or what it reaches."""
    causes = []
    old, new = before.get("code_version"), after["code_version"]
    if kind_of(new) == UNFINGERPRINTABLE:
        causes.append(RerunCause(kind="unfingerprintable", message="it cannot be fingerprinted"))
    elif old != new:
        if str(old).startswith("version:") and new.startswith("version:"):
            message = f"version changed ({_version(old)} -> {_version(new)})"
            causes.append(RerunCause(kind="version_changed", message=message))
        else:
            causes.append(RerunCause(kind="code_changed", message="code changed"))
    old_parts = _mapping(before.get("code"))
    causes.extend(_part_changes(old_parts, after.get("code", {})))
    if not causes and set(old_parts) != set(after.get("code", {})):
        causes.append(RerunCause(kind="code_changed", message="code changed"))
    return causes


def _resource_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], modes: tuple[str | None, str]
) -> list[RerunCause]:
    causes = []
    for key in sorted(set(before) | set(after)):
        old, new = _mapping(before.get(key)), after.get(key)
        if new is None:
            message = f"resource no longer required: {key}"
        elif not old:
            message = f"resource now required: {key}"
        elif dict(old) == new:
            continue
        elif modes[0] is not None and modes[0] != modes[1]:
            message = f"resource changed: {key} (mode {modes[0]} -> {modes[1]})"
        else:
            what = [cause.message for cause in _code_changes(old, new)]
            if old.get("config") != new["config"]:
                what.append("config changed")
            message = f"resource changed: {key} ({'; '.join(what) or 'code changed'})"
        causes.append(RerunCause(kind="resource_changed", message=message))
    return causes


def rerun_causes(
    keys: MemoKeys, previous: PreviousRun | None, assessment: Assessment, mode: str
) -> list[RerunCause]:
    """Why a step that is not memoized runs, given how it ran last time (None if it never
    ended), the assessment of an output that is not PRESENT and the mode of this run."""
    if previous is None:
        return [RerunCause(kind="no_earlier_run", message="no earlier run of this step")]
    current = keys.lineage
    before = _mapping(previous.lineage)
    if before.get("recipe") != KEY_RECIPE_VERSION:
        message = "its key is made differently since it last ran (an older solidflow ran it)"
        return [RerunCause(kind="key_recipe_changed", message=message)]
    causes = _code_changes(before, current)
    if before.get("config") != current["config"]:
        causes.append(RerunCause(kind="config_changed", message="config changed"))
    resources = _mapping(before.get("resources"))
    causes.extend(_resource_changes(resources, current["resources"], (previous.mode, mode)))
    if before.get("data_version") != current["data_version"]:
        causes.append(RerunCause(kind="data_version_changed", message="data version changed"))
    old_inputs = _mapping(before.get("inputs"))
    inputs = [name for name, key in current["inputs"].items() if old_inputs.get(name) != key]
    if inputs:
        message = f"upstream changed ({', '.join(inputs)})"
        causes.append(RerunCause(kind="upstream_changed", message=message))
    if causes:
        return causes
    if assessment.status is OutputStatus.CORRUPT:
        message = f"output corrupt ({assessment.reason})"
        return [RerunCause(kind="output_corrupt", message=message)]
    return [RerunCause(kind="output_missing", message="output missing")]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPart:
    """One part of a memo key.

    Args:
        part: what it is: "solid", "code", "reads" (a helper, class, value or library the
            code reaches), "config", "resource", "resource reads", "input" or "data version".
        name: its name, e.g. "pricing.discount" or "warehouse config".
        fingerprint: its fingerprint or value, e.g. "function:1f0c..." or '{"rows":10}'.
    """

    part: str
    name: str
    fingerprint: str


def key_parts(keys: MemoKeys) -> list[KeyPart]:
    """The parts of a step's memo key, in the order they are hashed."""
    lineage = keys.lineage
    parts = [KeyPart(part="solid", name=lineage["solid"], fingerprint=lineage["solid"])]
    parts.append(KeyPart(part="code", name=lineage["solid"], fingerprint=lineage["code_version"]))
    parts.extend(
        KeyPart(part="reads", name=name, fingerprint=fingerprint)
        for name, fingerprint in lineage["code"].items()
    )
    parts.append(KeyPart(part="config", name="config", fingerprint=lineage["config"]))
    for key, resource in lineage["resources"].items():
        parts.append(
            KeyPart(part="resource", name=f"{key} code", fingerprint=resource["code_version"])
        )
        parts.extend(
            KeyPart(part="resource reads", name=name, fingerprint=fingerprint)
            for name, fingerprint in resource["code"].items()
        )
        parts.append(KeyPart(part="resource", name=f"{key} config", fingerprint=resource["config"]))
    for name, key in lineage["inputs"].items():
        shown = ", ".join(key) if isinstance(key, list) else key
        parts.append(KeyPart(part="input", name=name, fingerprint=shown))
    parts.append(
        KeyPart(part="data version", name="data_version", fingerprint=str(lineage["data_version"]))
    )
    return parts
