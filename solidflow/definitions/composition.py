"""Wiring: calling solids inside a @pipeline or @composite_solid body builds the graph."""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.events import DEFAULT_OUTPUT
from solidflow.definitions.graph import FanIn, FromOutput, FromValue, InputBinding, Node
from solidflow.definitions.invocation import current_scope, enter_scope, leave_scope
from solidflow.definitions.solid import InputDefinition, SolidDefinition, check_name
from solidflow.definitions.types import DataType, resolve_type, types_compatible
from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class OutputHandle:
    """What calling a solid in a composition body returns: a reference to one of its outputs."""

    binding: FromOutput | FanIn | FromValue | None
    """None for a composite input that is not wired: its readers take values from run_config."""
    data_type: DataType
    label: str

    def __iter__(self) -> Any:
        raise DefinitionError(
            f"{self.label} is a single output and cannot be unpacked; declare several outputs "
            "with @solid(outs={...})"
        )


class MultipleOutputs(tuple[OutputHandle, ...]):
    """The outputs of a multi-output solid: unpack them or pick one by name."""

    _handles: dict[str, OutputHandle]
    _owner: str

    def __new__(cls, handles: dict[str, OutputHandle], owner: str) -> MultipleOutputs:
        instance = super().__new__(cls, handles.values())
        instance._handles = handles
        instance._owner = owner
        return instance

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):  # output names win over tuple methods (count, index)
            handles = object.__getattribute__(self, "__dict__").get("_handles", {})
            if name in handles:
                return handles[name]
        return super().__getattribute__(name)

    def __getattr__(self, name: str) -> OutputHandle:
        handles = self.__dict__.get("_handles", {})
        if name in handles:
            handle: OutputHandle = handles[name]
            return handle
        raise DefinitionError(
            f"{self.__dict__.get('_owner')} has no output '{name}'; its outputs are "
            f"{', '.join(handles)}"
        )


def output_bindings(outputs: OutputHandle | MultipleOutputs | None) -> dict[str, InputBinding]:
    """Where each output of what a composition body returned comes from, by output name (an
    output that is an unwired input of the composite comes from nowhere: it is left out)."""
    if outputs is None:
        return {}
    handles = {DEFAULT_OUTPUT: outputs} if isinstance(outputs, OutputHandle) else outputs._handles
    return {name: handle.binding for name, handle in handles.items() if handle.binding is not None}


@dataclass(slots=True)
class _Scope:
    prefix: str
    owner: str
    nodes: dict[str, Node]
    composites: dict[str, Any]
    composite_outputs: dict[str, dict[str, InputBinding]]

    def place(
        self, definition: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Place a solid or composite `definition` in this scope under `name`."""
        full_name = claim_name(self, name)
        if isinstance(definition, SolidDefinition):
            return _place_solid(self, full_name, definition, args, kwargs)
        return definition.place(self, full_name, args, kwargs)


class GraphBuilder:
    """Runs a composition body and collects the nodes and composites it wires."""

    def __init__(self, owner: str, prefix: str = "") -> None:
        self.nodes: dict[str, Node] = {}
        self.composites: dict[str, Any] = {}
        self.composite_outputs: dict[str, dict[str, InputBinding]] = {}
        self._root = _Scope(
            prefix=prefix,
            owner=owner,
            nodes=self.nodes,
            composites=self.composites,
            composite_outputs=self.composite_outputs,
        )

    def run(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        enter_scope(self._root)
        try:
            return fn(**kwargs)
        finally:
            leave_scope()


def enter_nested(prefix: str, owner: str) -> _Scope:
    outer = typing.cast(_Scope, current_scope(owner))
    scope = _Scope(
        prefix=prefix,
        owner=owner,
        nodes=outer.nodes,
        composites=outer.composites,
        composite_outputs=outer.composite_outputs,
    )
    enter_scope(scope)
    return scope


def leave_nested() -> None:
    leave_scope()


def claim_name(scope: _Scope, name: str) -> str:
    """Reserve `name` in the scope and return its full dotted name."""
    check_name(name, "solid")
    full_name = scope.prefix + name
    if full_name in scope.nodes or full_name in scope.composites:
        raise DefinitionError(
            f"{scope.owner} uses the name '{full_name}' twice; give the second use another "
            f"name with .alias('{name}_2')"
        )
    return full_name


def _element_type(input_def: InputDefinition) -> DataType | None:
    annotation = input_def.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (list, Sequence, typing.Sequence) and typing.get_args(
        annotation
    ):
        return resolve_type(typing.get_args(annotation)[0])
    return None


def _check_edge(handle: OutputHandle, expected: DataType, where: str) -> None:
    if not types_compatible(handle.data_type, expected):
        raise DefinitionError(
            f"type mismatch: {handle.label} is {handle.data_type.name} but {where} expects "
            f"{expected.name}"
        )


def binding_for(value: Any, input_def: InputDefinition, where: str) -> InputBinding | None:
    """Turn what was passed for an input in a composition body into its binding (None: the
    input is not wired and takes its value from run_config)."""
    if isinstance(value, MultipleOutputs):
        raise DefinitionError(
            f"{where} got all outputs of {value._owner}; unpack them or pick one by name"
        )
    if isinstance(value, OutputHandle):
        _check_edge(value, input_def.data_type, where)
        return value.binding
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(item, OutputHandle) for item in value)
    ):
        element = _element_type(input_def)
        if element is not None:
            for item in value:
                _check_edge(item, element, f"{where} (an element of the list)")
        sources = []
        for item in value:
            if not isinstance(item.binding, FromOutput):
                raise DefinitionError(f"{where}: a list input can only combine solid outputs")
            sources.append(item.binding)
        return FanIn(tuple(sources))
    raise DefinitionError(
        f"{where} got the plain value {value!r}; inputs must be wired to solid outputs "
        "(give the input a default, or leave it unwired and give its value in run_config "
        "'solids.<name>.inputs')"
    )


def bind_arguments(
    inputs: Sequence[InputDefinition], args: tuple[Any, ...], kwargs: dict[str, Any], owner: str
) -> dict[str, Any]:
    """Match positional and keyword arguments to input definitions, like a function call."""
    if len(args) > len(inputs):
        raise DefinitionError(
            f"{owner} takes {len(inputs)} input(s) but was called with {len(args)} positional "
            "arguments"
        )
    bound = {input_def.name: value for input_def, value in zip(inputs, args, strict=False)}
    names = {input_def.name for input_def in inputs}
    for name, value in kwargs.items():
        if name not in names:
            raise DefinitionError(
                f"{owner} has no input '{name}'; its inputs are {', '.join(sorted(names)) or 'none'}"
            )
        if name in bound:
            raise DefinitionError(f"{owner} got input '{name}' twice")
        bound[name] = value
    return bound


def _place_solid(
    scope: _Scope,
    full_name: str,
    solid: SolidDefinition,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    owner = f"solid '{full_name}' in {scope.owner}"
    bound = bind_arguments(solid.inputs, args, kwargs, owner)
    bindings: dict[str, InputBinding] = {}
    for input_def in solid.inputs:  # an input left unwired takes its value from run_config
        if input_def.name in bound:
            where = f"input '{input_def.name}' of solid '{full_name}'"
            binding = binding_for(bound[input_def.name], input_def, where)
            if binding is not None:
                bindings[input_def.name] = binding
    scope.nodes[full_name] = Node(name=full_name, solid=solid, inputs=bindings)
    handles = {
        output.name: OutputHandle(
            binding=FromOutput(full_name, output.name),
            data_type=output.data_type,
            label=f"output '{output.name}' of solid '{full_name}'",
        )
        for output in solid.outputs
    }
    if len(handles) == 1:
        return next(iter(handles.values()))
    return MultipleOutputs(handles, f"solid '{full_name}'")
