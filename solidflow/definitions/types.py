"""Runtime types: a DataType is a named check of a value, resolved from annotations."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

from solidflow.definitions.loaders import TypeLoader
from solidflow.errors import DefinitionError
from solidflow.registry import PluginRegistry


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeCheck:
    """The outcome of a type check, with optional metadata recorded in the event."""

    success: bool
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


TypeCheckFn = Callable[[Any], "bool | TypeCheck"]


class DataType:
    """A named runtime type: `type_check_fn(value)` returns a bool or a TypeCheck.

    `python_types`, when given, are the Python classes the value belongs to; they let the
    pipeline reject edges between incompatible types at definition time. `loader`, when given,
    builds a value of the type from run_config for inputs that are not wired.
    """

    __slots__ = ("_check_fn", "description", "loader", "name", "python_types")

    def __init__(
        self,
        name: str,
        type_check_fn: TypeCheckFn,
        description: str | None = None,
        *,
        python_types: tuple[type, ...] = (),
        loader: TypeLoader | None = None,
    ) -> None:
        if not callable(type_check_fn):
            raise DefinitionError(f"DataType '{name}': type_check_fn must be callable")
        if loader is not None and not isinstance(loader, TypeLoader):
            raise DefinitionError(
                f"DataType '{name}': loader must be a TypeLoader (declare it with "
                "@type_loader(ConfigClass))"
            )
        self.name = name
        self._check_fn = type_check_fn
        self.description = description
        self.python_types = python_types
        self.loader = loader

    def type_check(self, value: Any) -> TypeCheck:
        """Check `value`; a check function that raises counts as a failed check."""
        try:
            outcome: object = self._check_fn(value)  # user code: anything may come back
        except Exception as exc:  # a broken check must not crash the engine
            return TypeCheck(
                success=False,
                description=f"type check of {self.name} raised {type(exc).__name__}: {exc}",
            )
        if isinstance(outcome, TypeCheck):
            return outcome
        passed = _as_bool(outcome)
        if passed is not None:
            return TypeCheck(success=passed, description=None if passed else self._mismatch(value))
        return TypeCheck(
            success=False,
            description=f"type check of {self.name} returned {type(outcome).__name__}, "
            "expected bool or TypeCheck",
        )

    def _mismatch(self, value: Any) -> str:
        return f"value of type {type(value).__name__} is not {with_article(self.name)}"

    def __repr__(self) -> str:
        return f"DataType({self.name!r})"


def _as_bool(outcome: Any) -> bool | None:
    """`outcome` as a bool: a bool, or a boolean scalar of an array library (which `.item()`
    turns into a bool); None for anything else."""
    if isinstance(outcome, bool):
        return outcome
    item = getattr(outcome, "item", None)
    if not callable(item):
        return None
    try:
        scalar = item()
    except Exception:  # not a scalar
        return None
    return scalar if isinstance(scalar, bool) else None


def _always(_: Any) -> bool:
    return True


ANY = DataType("Any", _always, "accepts every value")
_PASSED = TypeCheck(success=True)


def with_article(name: str) -> str:
    """`name` after "a", or "an" when it starts with a vowel letter: "an int", "a str"."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def class_type(cls: type) -> DataType:
    """A DataType that accepts instances of `cls` (ints are accepted as floats; bools are never ints)."""
    accepted: tuple[type, ...] = (int, float) if cls is float else (cls,)
    rejects_bool = cls in (int, float)

    def check(value: Any) -> TypeCheck:
        if isinstance(value, accepted) and not (rejects_bool and isinstance(value, bool)):
            return _PASSED
        return TypeCheck(
            success=False,
            description=f"value {_describe(value)} of type {type(value).__name__} "
            f"is not {with_article(cls.__name__)}",
        )

    return DataType(cls.__name__, check, f"an instance of {cls.__qualname__}", python_types=(cls,))


def _optional(inner: DataType) -> DataType:
    def check(value: Any) -> TypeCheck:
        return TypeCheck(success=True) if value is None else inner.type_check(value)

    return DataType(
        f"Optional[{inner.name}]",
        check,
        f"None or {inner.name}",
        python_types=inner.python_types,
        loader=inner.loader,
    )


def _union(members: list[DataType]) -> DataType:
    name = " | ".join(member.name for member in members)

    def check(value: Any) -> TypeCheck:
        failures = []
        for member in members:
            outcome = member.type_check(value)
            if outcome.success:
                return outcome
            failures.append(outcome.description or member.name)
        return TypeCheck(
            success=False, description=f"value matches none of {name}: " + "; ".join(failures)
        )

    python_types = tuple(t for member in members for t in member.python_types)
    return DataType(name, check, f"one of {name}", python_types=python_types)


def _collection(origin: type, args: tuple[Any, ...], owner: str) -> DataType:
    outer = class_type(origin)
    if not args:
        return outer
    if origin is dict:
        key_type, value_type = (resolve_type(arg, owner) for arg in args)
        name = f"dict[{key_type.name}, {value_type.name}]"

        def items(value: Any) -> list[tuple[str, Any, DataType]]:
            pairs = []
            for key, item in value.items():
                pairs.append((f"key {key!r}", key, key_type))
                pairs.append((f"value at {key!r}", item, value_type))
            return pairs
    else:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            element_types = [resolve_type(arg, owner) for arg in args]
            name = f"tuple[{', '.join(t.name for t in element_types)}]"

            def items(value: Any) -> list[tuple[str, Any, DataType]]:
                if len(value) != len(element_types):
                    return [("length", value, _length_type(len(element_types)))]
                return [
                    (f"item {i}", v, t)
                    for i, (v, t) in enumerate(zip(value, element_types, strict=True))
                ]
        else:
            element = resolve_type(args[0], owner)
            etc = ", ..." if origin is tuple else ""
            name = f"{origin.__name__}[{element.name}{etc}]"

            def items(value: Any) -> list[tuple[str, Any, DataType]]:
                return [(f"item {i}", v, element) for i, v in enumerate(value)]

    def check(value: Any) -> TypeCheck:
        outcome = outer.type_check(value)
        if not outcome.success:
            return outcome
        for where, item, item_type in items(value):
            inner = item_type.type_check(item)
            if not inner.success:
                return TypeCheck(success=False, description=f"{where}: {inner.description}")
        return TypeCheck(success=True, metadata={"length": len(value)})

    return DataType(name, check, f"a {name}", python_types=(origin,))


def _length_type(expected: int) -> DataType:
    return DataType(
        f"length {expected}",
        lambda value: TypeCheck(
            success=False, description=f"expected {expected} items, got {len(value)}"
        ),
    )


def _annotated(base: Any, extras: tuple[Any, ...], owner: str) -> DataType:
    data_types = [extra for extra in extras if isinstance(extra, DataType)]
    if not data_types:
        return resolve_type(base, owner)
    custom = data_types[-1]
    base_type = resolve_type(base, owner)
    if base_type is ANY:
        return custom

    def check(value: Any) -> TypeCheck:
        outcome = base_type.type_check(value)
        return custom.type_check(value) if outcome.success else outcome

    return DataType(
        custom.name,
        check,
        custom.description,
        python_types=base_type.python_types,
        loader=custom.loader,
    )


_NONE_TYPES = (type(None), None)


def check_type(data_type: Any, value: Any) -> TypeCheck:
    """Type-check `value` outside a pipeline: `data_type` is a DataType or an annotation
    (`int`, `list[str]`, `Annotated[pa.Table, my_type]`)."""
    return resolve_type(data_type, "check_type").type_check(value)


def resolve_type(annotation: Any, owner: str = "") -> DataType:
    """Turn an annotation into a DataType; `owner` names the annotated thing in errors."""
    if annotation is Any or annotation is typing.Any or annotation is None:
        return ANY
    if isinstance(annotation, DataType):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extras = typing.get_args(annotation)
        return _annotated(base, tuple(extras), owner)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        members = [resolve_type(arg, owner) for arg in args if arg not in _NONE_TYPES]
        inner = members[0] if len(members) == 1 else _union(members)
        return _optional(inner) if len(members) < len(args) else inner
    if origin in (list, dict, set, frozenset, tuple):
        return _collection(origin, typing.get_args(annotation), owner)
    if typing.is_typeddict(annotation) or (
        getattr(annotation, "_is_protocol", False)
        and not getattr(annotation, "_is_runtime_protocol", False)
    ):
        raise DefinitionError(
            f"{owner}: {annotation.__name__} cannot be checked at run time; use dict, a "
            "@runtime_checkable Protocol, or a DataType"
        )
    if origin is not None and isinstance(origin, type):
        return class_type(origin)
    if isinstance(annotation, type):
        return class_type(annotation)
    raise DefinitionError(
        f"{owner}: cannot use {annotation!r} as a type; use a class, Optional[...], "
        "a DataType or Annotated[T, DataType]"
    )


Conversion = Callable[[type, type], bool]
"""Whether the engine hands outputs of the first class to inputs of the second, although
neither class is a subclass of the other (by converting what it stored)."""

CONVERSIONS: PluginRegistry[Conversion] = PluginRegistry("solidflow.conversions", "type conversion")
"""Consulted only for edges that would otherwise be rejected; the engine's codecs fill it."""


def _plainly_compatible(out_cls: type, in_cls: type) -> bool:
    if bool in (out_cls, in_cls) and int in (out_cls, in_cls):
        return False  # the int check rejects bools, the bool check every other int
    try:
        if issubclass(out_cls, in_cls) or issubclass(in_cls, out_cls):
            return True
    except TypeError:  # classes issubclass cannot compare (protocols with data members)
        return True
    return in_cls is float and out_cls is int


def types_compatible(output: DataType, input: DataType) -> bool:
    """False only when both ends declare Python classes that can never match (and that the
    engine does not convert between)."""
    if not output.python_types or not input.python_types:
        return True
    pairs = [(o, i) for o in output.python_types for i in input.python_types]
    if any(_plainly_compatible(out_cls, in_cls) for out_cls, in_cls in pairs):
        return True
    conversions = CONVERSIONS.items().values()
    return any(convert(o, i) for o, i in pairs for convert in conversions)
