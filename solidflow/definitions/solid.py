"""Solids: typed functions, the unit of computation and of execution."""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from solidflow.definitions.broken import defined
from solidflow.definitions.config import config_schema_problem
from solidflow.definitions.context import is_context_parameter
from solidflow.definitions.events import DEFAULT_OUTPUT
from solidflow.definitions.invocation import Invocation
from solidflow.definitions.retry import RetryPolicy
from solidflow.definitions.solid_options import check_tags
from solidflow.definitions.types import DataType, resolve_type
from solidflow.errors import DefinitionError

NO_DEFAULT: Any = inspect.Parameter.empty


@dataclass(frozen=True, slots=True, kw_only=True)
class InputDefinition:
    """One input of a solid: a name, a type, and an optional default value."""

    name: str
    data_type: DataType
    annotation: Any = None
    default: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputDefinition:
    """One output of a solid: a name, a type, and whether the solid must produce it."""

    name: str
    data_type: DataType
    is_required: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Out:
    """An output declared in `@solid(outs={...})`: its type, and whether the solid must
    produce it. When an optional output (`is_required=False`) is not produced, the solids
    that read it are skipped."""

    type: Any = Any
    is_required: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SolidDefinition:
    """A function with typed inputs and outputs, optional config and required resources."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[InputDefinition, ...]
    outputs: tuple[OutputDefinition, ...]
    description: str | None = None
    version: str | None = None
    config_schema: Any = None
    """A Config subclass, or an annotation such as `str` or `list[int]`; None: no config."""
    required_resource_keys: frozenset[str] = frozenset()
    tags: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    data_version: Callable[[Any], str] | None = None
    takes_context: bool = False

    @property
    def takes_config(self) -> bool:
        return self.config_schema is not None

    @property
    def yields_events(self) -> bool:
        """Whether the body is a generator function, whose yields are the step's outputs and
        events (a generator object that a plain function returns is an output value)."""
        return inspect.isgeneratorfunction(inspect.unwrap(self.fn))

    def input(self, name: str) -> InputDefinition:
        for input_def in self.inputs:
            if input_def.name == name:
                return input_def
        raise KeyError(name)

    def output(self, name: str) -> OutputDefinition:
        for output_def in self.outputs:
            if output_def.name == name:
                return output_def
        raise KeyError(name)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(output_def.name for output_def in self.outputs)

    def alias(self, name: str) -> Invocation:
        """This solid under another name, so a pipeline can use it more than once."""
        return Invocation(self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return Invocation(self, self.name)(*args, **kwargs)


_GENERATOR_ORIGINS = (
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.Iterable,
)


def check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise DefinitionError(
            f"{what} name {name!r} is not valid: use letters, digits and '_', "
            "not starting with a digit"
        )


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise DefinitionError(
            f"solid '{fn.__name__}': cannot read its type annotations ({type(exc).__name__}: {exc})"
        ) from exc


def _build_inputs(
    name: str, fn: Callable[..., Any], hints: dict[str, Any]
) -> tuple[tuple[InputDefinition, ...], bool, Any]:
    params = list(inspect.signature(fn).parameters.values())
    takes_context = bool(params) and is_context_parameter(params[0].name, hints.get(params[0].name))
    if takes_context:
        params = params[1:]
    config_schema: Any = None
    inputs = []
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"solid '{name}': *args and **kwargs are not supported")
        if param.name == "context":
            raise DefinitionError(f"solid '{name}': 'context' must be the first parameter")
        if param.name == "config":
            if "config" not in hints:
                raise DefinitionError(
                    f"solid '{name}': parameter 'config' needs an annotation: a Config "
                    "subclass, or a type such as str or list[int]"
                )
            config_schema = hints["config"]
            problem = config_schema_problem(config_schema)
            if problem is not None:
                raise DefinitionError(
                    f"solid '{name}': parameter 'config' must be annotated with a Config "
                    f"subclass or a type such as str or list[int]; {problem}"
                )
            continue
        annotation = hints.get(param.name, Any)
        inputs.append(
            InputDefinition(
                name=param.name,
                data_type=resolve_type(annotation, f"solid '{name}' input '{param.name}'"),
                annotation=annotation,
                default=param.default,
            )
        )
    return tuple(inputs), takes_context, config_schema


def _build_outputs(
    name: str, hints: dict[str, Any], outs: Mapping[str, Any] | None, yields_events: bool
) -> tuple[OutputDefinition, ...]:
    if outs is None:
        annotation = hints.get("return", Any)
        if yields_events and typing.get_origin(annotation) in _GENERATOR_ORIGINS:
            annotation = Any  # a generator solid yields Output(...) events, typed at run time
        return (
            OutputDefinition(
                name=DEFAULT_OUTPUT,
                data_type=resolve_type(annotation, f"solid '{name}' output"),
            ),
        )
    if not outs:
        raise DefinitionError(f"solid '{name}': outs must name at least one output")
    definitions = []
    for output_name, declared in outs.items():
        check_name(output_name, f"solid '{name}' output")
        out = declared if isinstance(declared, Out) else Out(declared)
        definitions.append(
            OutputDefinition(
                name=output_name,
                data_type=resolve_type(out.type, f"solid '{name}' output '{output_name}'"),
                is_required=out.is_required,
                description=out.description,
            )
        )
    return tuple(definitions)


@overload
def solid(fn: Callable[..., Any]) -> SolidDefinition: ...
@overload
def solid(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    required_resource_keys: set[str] | frozenset[str] | None = None,
    outs: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    data_version: Callable[[Any], str] | None = None,
) -> Callable[[Callable[..., Any]], SolidDefinition]: ...


def solid(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    required_resource_keys: set[str] | frozenset[str] | None = None,
    outs: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    data_version: Callable[[Any], str] | None = None,
) -> Any:
    """Declare a solid. Parameters are inputs, except an optional first context (named
    `context`, `_context` or `_`, or annotated SolidExecutionContext) and an optional
    `config: SomeConfig` (or `config: str`, `config: list[int]`...); the return value is output
    "result" unless `outs` names several outputs (a type or an `Out(type, is_required=False)`
    each).

    `version` names the code version used in memoization keys (default: a hash of the
    function's source). `data_version(context) -> str` lets a solid that reads external data
    say which version of it the run would see (a file's mtime, an object's etag); it is
    evaluated when the run is planned, with `context.solid_name` and `context.config`.
    """

    def decorate(func: Callable[..., Any]) -> SolidDefinition:
        solid_name = func.__name__ if name is None else name
        return defined("solid", solid_name, lambda: build(func, solid_name))  # type: ignore[return-value]

    def build(func: Callable[..., Any], solid_name: str) -> SolidDefinition:
        check_name(solid_name, "solid")
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise DefinitionError(f"solid '{solid_name}': async functions are not supported")
        if isinstance(required_resource_keys, str):
            raise DefinitionError(
                f"solid '{solid_name}': required_resource_keys must be a set of keys, such as "
                f"{{'{required_resource_keys}'}}"
            )
        if outs is not None and not isinstance(outs, Mapping):
            raise DefinitionError(
                f"solid '{solid_name}': outs must map output names to types, such as "
                "{'rows': int, 'table': pa.Table}"
            )
        hints = _type_hints(func)
        inputs, takes_context, config_schema = _build_inputs(solid_name, func, hints)
        resource_keys = frozenset(required_resource_keys or ())
        for key in resource_keys:
            if not key.isidentifier():
                raise DefinitionError(f"solid '{solid_name}': resource key {key!r} is not valid")
        if resource_keys and not takes_context:
            raise DefinitionError(
                f"solid '{solid_name}' requires resources {sorted(resource_keys)} but has no "
                "'context' parameter to reach them; add 'context' as the first parameter"
            )
        if tags:
            check_tags(solid_name, tags)
        if data_version is not None and not callable(data_version):
            raise DefinitionError(f"solid '{solid_name}': data_version must be a callable")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise DefinitionError(f"solid '{solid_name}': retry must be a RetryPolicy")
        return SolidDefinition(
            name=solid_name,
            fn=func,
            inputs=inputs,
            outputs=_build_outputs(
                solid_name, hints, outs, inspect.isgeneratorfunction(inspect.unwrap(func))
            ),
            description=description or inspect.getdoc(func),
            version=version,
            config_schema=config_schema,
            required_resource_keys=resource_keys,
            tags=dict(tags or {}),
            retry=retry,
            data_version=data_version,
            takes_context=takes_context,
        )

    return decorate(fn) if fn is not None else decorate
