"""The parts that a piece of code is made of, as a graph built on demand: each part is named
and fingerprinted, and refers to the parts it reaches. A part is built (fingerprinted) the
first time something reaches it, once per graph."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from solidflow.engine.memo.sources import digest
from solidflow.engine.memo.values import packed

FUNCTION = "function"
CLASS = "class"
VALUE = "value"
MODULE = "module"
PACKAGE = "package"
UNFINGERPRINTABLE = "unfingerprintable"

FINGERPRINT_LENGTH = 16


def kind_of(fingerprint: str) -> str:
    """The kind of part a fingerprint belongs to (FUNCTION, CLASS, VALUE, ...)."""
    return fingerprint.partition(":")[0]


def fingerprint_of(kind: str, tokens: Any) -> str:
    """The fingerprint of a part of `kind` made of `tokens` (plain data)."""
    return f"{kind}:{digest(packed(tokens), FINGERPRINT_LENGTH)}"


@dataclass(slots=True)
class Part:
    """A named piece of code or value, its fingerprint and the keys of the parts it reaches."""

    name: str
    fingerprint: str
    refs: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeFingerprint:
    """What a piece of code is made of.

    Args:
        version: the fingerprint of the code itself.
        parts: the fingerprint of every part it reaches, by name.
        unfingerprintable: the parts that have no fingerprint, by name, with their type.
    """

    version: str
    parts: Mapping[str, str]
    unfingerprintable: Mapping[str, str]


class _Collecting:
    """The context manager of PartGraph.collecting (a class: cheaper than a generator, and
    entered once per part)."""

    __slots__ = ("_stack",)

    def __init__(self, stack: list[list[int]]) -> None:
        self._stack = stack

    def __enter__(self) -> list[int]:
        refs: list[int] = []
        self._stack.append(refs)
        return refs

    def __exit__(self, *exc_info: object) -> None:
        self._stack.pop()


class PartGraph:
    """Parts by key (the id of their object, kept alive here), built on first use; while a
    part is built, the parts registered or added are its references."""

    def __init__(self) -> None:
        self._parts: dict[int, Part] = {}
        self._builders: dict[int, Callable[[], Part]] = {}
        self._objects: dict[int, Any] = {}  # keeps the objects of the parts alive
        self._building: set[int] = set()
        self._collecting: list[list[int]] = []
        self.problems: dict[str, str] = {}

    def register(self, obj: Any, build: Callable[[], Part]) -> int:
        """Make `obj` a reference of the part being built; its own part is built on use."""
        key = id(obj)
        if key not in self._parts and key not in self._builders and key not in self._building:
            self._objects[key] = obj
            self._builders[key] = build
        if self._collecting:
            self._collecting[-1].append(key)
        return key

    def built(self, key: int) -> Part:
        """The part registered under `key`, built now if it is not yet."""
        part = self._parts.get(key)
        if part is None:
            build = self._builders.pop(key)
            self._building.add(key)
            try:
                part = self._parts[key] = build()
            finally:
                self._building.discard(key)
        return part

    def add(self, part: Part) -> None:
        """Make a part that is built already a reference of the part being built."""
        key = id(part)
        self._parts[key] = part
        self._objects[key] = part
        if self._collecting:
            self._collecting[-1].append(key)

    def collecting(self) -> _Collecting:
        """Within the `with` block, the parts registered or added are collected into the list
        it gives (the references of a part being built), not into the enclosing part's."""
        return _Collecting(self._collecting)

    def unfingerprintable(self, name: str, why: str) -> Part:
        """A part with no stable fingerprint: a random one, which no later key matches."""
        self.problems[name] = why
        return Part(name, f"{UNFINGERPRINTABLE}:{secrets.token_hex(8)}")

    def reach(self, root: Part) -> CodeFingerprint:
        """What `root` is made of: every part it reaches, by name (parts that share a name
        are fingerprinted together), and those with no fingerprint."""
        parts: dict[str, str] = {}
        problems: dict[str, str] = {}
        seen = set(root.refs)
        stack = list(root.refs)
        while stack:
            part = self.built(stack.pop())
            if part is root:
                continue
            previous = parts.get(part.name)
            parts[part.name] = (
                part.fingerprint
                if previous in (None, part.fingerprint)
                else "multiple:" + digest(packed(sorted([previous, part.fingerprint])), 16)
            )
            if part.name in self.problems:
                problems[part.name] = self.problems[part.name]
            for ref in part.refs:
                if ref not in seen:
                    seen.add(ref)
                    stack.append(ref)
        if root.name in self.problems:
            problems[root.name] = self.problems[root.name]
        return CodeFingerprint(
            version=root.fingerprint, parts=dict(sorted(parts.items())), unfingerprintable=problems
        )
