"""Resources: environment concerns (a database, a Spark session, a file cache) built per run."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, overload

from solidflow.definitions.config import config_schema_problem, plain_config
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class InitContext:
    """What a resource function receives: its validated config and where it runs."""

    config: Any
    resource_key: str
    run_id: str
    log: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceDefinition:
    """A function of an InitContext returning the resource, or a generator yielding it once
    (code after the yield is teardown and always runs, also when the run fails).

    A `shared` resource may serve several runs: a process that keeps running (a Ray step
    worker) builds it once per config and keeps it for the later runs that use it with the
    same config; its teardown runs when that process ends normally."""

    fn: Callable[..., Any]
    """Called with the InitContext, or with nothing if `takes_context` is False."""
    config_schema: Any = None
    """A Config subclass, or an annotation such as `str` or `list[int]`; None: no config."""
    description: str | None = None
    bound_config: Any = field(default=None)
    """Config fixed with `.configured(...)`, as plain data; None: given in run_config."""
    takes_context: bool = True
    shared: bool = False
    version: str | None = None

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", "resource")

    @property
    def is_generator(self) -> bool:
        return inspect.isgeneratorfunction(self.fn)

    def call(self, init_context: InitContext) -> Any:
        """Run the resource function (a generator for resources with teardown)."""
        return self.fn(init_context) if self.takes_context else self.fn()

    def configured(self, config: Any) -> ResourceDefinition:
        """A copy whose config is fixed, so run_config need not give it."""
        if self.config_schema is None:
            raise DefinitionError(f"resource '{self.name}' takes no config")
        return replace(self, bound_config=plain_config(config))


@dataclass(frozen=True, slots=True)
class PlainObject:
    """The function of a resource given as a plain object: it returns the object."""

    value: Any

    def __call__(self, _: InitContext) -> Any:
        return self.value


def _plain_value_resource(value: Any) -> ResourceDefinition:
    return ResourceDefinition(
        fn=PlainObject(value), description=f"the object {type(value).__name__}"
    )


def as_resource_definition(value: Any) -> ResourceDefinition:
    """A ResourceDefinition for `value`: itself if it is one, else one that returns `value`."""
    return value if isinstance(value, ResourceDefinition) else _plain_value_resource(value)


@overload
def resource(fn: Callable[..., Any]) -> ResourceDefinition: ...
@overload
def resource(
    *,
    config: Any = None,
    description: str | None = None,
    shared: bool = False,
    version: str | None = None,
) -> Callable[[Callable[..., Any]], ResourceDefinition]: ...


def resource(
    fn: Callable[..., Any] | None = None,
    *,
    config: Any = None,
    description: str | None = None,
    shared: bool = False,
    version: str | None = None,
) -> Any:
    """Declare a resource: `@resource` or `@resource(config=MyConfig)` on `def f(init_context)`;
    config may also be a type such as `str` or `list[int]`. `shared=True`: see
    ResourceDefinition.

    Memo keys of the steps that require the resource see its code, like a solid's (`version`
    names it instead), and its config."""

    def decorate(func: Callable[..., Any]) -> ResourceDefinition:
        problem = None if config is None else config_schema_problem(config)
        if problem is not None:
            raise DefinitionError(
                f"resource '{func.__name__}': config must be a Config subclass or a type such "
                f"as str or list[int]; {problem}"
            )
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        if len(params) > 1:
            raise DefinitionError(
                f"resource '{func.__name__}' must take one argument (init_context), "
                f"takes {len(params)}"
            )
        return ResourceDefinition(
            fn=func,
            config_schema=config,
            description=description or inspect.getdoc(func),
            takes_context=bool(params),
            shared=shared,
            version=version,
        )

    return decorate(fn) if fn is not None else decorate
