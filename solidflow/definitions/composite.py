"""Composite solids: a named sub-graph with its own inputs and outputs."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from solidflow.definitions.broken import defined
from solidflow.definitions.composition import (
    GraphBuilder,
    MultipleOutputs,
    OutputHandle,
    _Scope,
    bind_arguments,
    binding_for,
    enter_nested,
    leave_nested,
    output_bindings,
)
from solidflow.definitions.graph import FromOutput, FromValue
from solidflow.definitions.invocation import Invocation
from solidflow.definitions.solid import InputDefinition, check_name
from solidflow.definitions.types import resolve_type
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class CompositeSolidDefinition:
    """A function whose body wires solids; its parameters are the composite's inputs and
    what it returns (an output, a tuple of outputs or a dict name -> output) its outputs."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[InputDefinition, ...]
    description: str | None = None

    def alias(self, name: str) -> Invocation:
        return Invocation(self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return Invocation(self, self.name)(*args, **kwargs)

    def place(
        self, scope: _Scope, full_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Wire the body into `scope` under the prefix `full_name.`."""
        owner = f"composite solid '{full_name}'"
        bound = bind_arguments(self.inputs, args, kwargs, f"{owner} in {scope.owner}")
        handles = {}
        for input_def in self.inputs:
            where = f"input '{input_def.name}' of {owner}"
            if input_def.name in bound:
                binding = binding_for(bound[input_def.name], input_def, where)
            elif input_def.has_default:
                binding = FromValue(input_def.default)
            else:
                binding = None  # the solids reading it take their values from run_config
            handles[input_def.name] = OutputHandle(
                binding=binding, data_type=input_def.data_type, label=where
            )
        scope.composites[full_name] = self
        enter_nested(full_name + ".", owner)
        try:
            returned = self.fn(**handles)
        finally:
            leave_nested()
        outputs = _outputs_of(returned, owner)
        scope.composite_outputs[full_name] = output_bindings(outputs)
        return outputs


def _outputs_of(returned: Any, owner: str) -> Any:
    if returned is None or isinstance(returned, (OutputHandle, MultipleOutputs)):
        return returned
    if isinstance(returned, dict) and all(isinstance(v, OutputHandle) for v in returned.values()):
        return MultipleOutputs(dict(returned), owner)
    if isinstance(returned, tuple) and all(isinstance(v, OutputHandle) for v in returned):
        return MultipleOutputs({str(i): handle for i, handle in enumerate(returned)}, owner)
    raise DefinitionError(
        f"{owner} must return an output of a solid, a tuple or dict of them, or None; "
        f"it returned {returned!r}"
    )


def _composite_inputs(name: str, fn: Callable[..., Any]) -> tuple[InputDefinition, ...]:
    hints = typing.get_type_hints(fn, include_extras=True)
    inputs = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"composite solid '{name}': *args and **kwargs are not supported")
        annotation = hints.get(param.name, Any)
        inputs.append(
            InputDefinition(
                name=param.name,
                data_type=resolve_type(
                    annotation, f"composite solid '{name}' input '{param.name}'"
                ),
                annotation=annotation,
                default=param.default,
            )
        )
    return tuple(inputs)


def _validate_body(definition: CompositeSolidDefinition) -> None:
    builder = GraphBuilder(f"composite solid '{definition.name}'", prefix=definition.name + ".")
    placeholders = {
        input_def.name: OutputHandle(
            binding=FromOutput(f"{definition.name}:input", input_def.name),
            data_type=input_def.data_type,
            label=f"input '{input_def.name}' of composite solid '{definition.name}'",
        )
        for input_def in definition.inputs
    }
    returned = builder.run(definition.fn, **placeholders)
    if not builder.nodes:
        raise DefinitionError(f"composite solid '{definition.name}' wires no solids")
    _outputs_of(returned, f"composite solid '{definition.name}'")


@overload
def composite_solid(fn: Callable[..., Any]) -> CompositeSolidDefinition: ...
@overload
def composite_solid(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], CompositeSolidDefinition]: ...


def composite_solid(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Declare a composite solid; the body is checked now, as a pipeline body is."""

    def decorate(func: Callable[..., Any]) -> CompositeSolidDefinition:
        composite_name = func.__name__ if name is None else name
        return defined("composite solid", composite_name, lambda: build(func, composite_name))  # type: ignore[return-value]

    def build(func: Callable[..., Any], composite_name: str) -> CompositeSolidDefinition:
        check_name(composite_name, "composite solid")
        definition = CompositeSolidDefinition(
            name=composite_name,
            fn=func,
            inputs=_composite_inputs(composite_name, func),
            description=description or inspect.getdoc(func),
        )
        _validate_body(definition)
        return definition

    return decorate(fn) if fn is not None else decorate
