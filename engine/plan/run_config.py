"""Validate run_config against a pipeline's schema, reporting every problem with its path."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from solidflow.definitions.config import Config, config_required, validate_config
from solidflow.definitions.graph import InputBinding
from solidflow.definitions.mode import Mode
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.solid import InputDefinition
from solidflow.definitions.types import DataType
from solidflow.engine.plan.config_problems import problems_of
from solidflow.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    field_by_key: ClassVar[dict[str, str]] = {}
    """The attribute name of each key of this section of run_config."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedRunConfig:
    """run_config after validation: typed config objects and checked input values."""

    solid_configs: Mapping[str, Any]
    input_values: Mapping[str, Mapping[str, Any]]
    """Values of inputs given in run_config; for an input whose type has a loader, the
    loader's validated config."""
    resource_configs: Mapping[str, Any]
    execution: Mapping[str, Mapping[str, Any]]
    storage: StorageSettings | None = None


class StorageSettings(Config):
    """Where this run keeps step outputs, instead of the instance's storage root, and how
    durably (instead of the instance's setting)."""

    root: str | None = None
    storage_options: dict[str, Any] = {}
    backend: str | None = None
    """The storage backend: a registered name or "package.module:Class" (default: "local"
    for a directory, "fsspec" for a URL)."""
    durability: Literal["run", "step", "none"] | None = None
    """`run`: outputs are written behind the computation and synced once, before the run
    commits them; `step`: each output is synced and committed as its step ends; `none`: as
    `run`, without syncing."""


FieldSpec = tuple[Any, FieldInfo]
"""A field of a run_config section as pydantic's create_model takes it: (annotation, info)."""


def _field(schema: Any, required: bool, description: str | None = None) -> FieldSpec:
    if required:
        info = Field(..., description=description)
    elif (
        isinstance(schema, type)
        and issubclass(schema, BaseModel)
        and not any(info.is_required() for info in schema.model_fields.values())
    ):
        info = Field(default_factory=schema, description=description)
    else:
        info = Field(default=None, description=description)
    # Field() is typed as its default's type, to be assigned to a class attribute.
    return (schema, cast(FieldInfo, info))


def _input_field(input_def: InputDefinition, required: bool) -> FieldSpec:
    """The run_config field of an input: its type's loader config, or any value (checked
    against the input's type after validation)."""
    data_type = input_def.data_type
    if data_type.loader is not None:
        description = f"config of the loader of {data_type.name}"
        return _field(data_type.loader.config_schema, required, description)
    return _field(Any, required, f"a value of type {data_type.name}")


class _NoSettings(_Section):
    """An entry with nothing to set (a solid without config or configurable inputs)."""


def _model(name: str, fields: Mapping[str, FieldSpec]) -> type[_Section]:
    """A strict model whose field names may be any string (they are set as aliases)."""
    if not fields:
        return _NoSettings
    definitions: dict[str, Any] = {
        f"f{index}": (Annotated[annotation, Field(alias=key)], info)
        for index, (key, (annotation, info)) in enumerate(fields.items())
    }
    model = create_model(name, __base__=_Section, **definitions)
    model.field_by_key = {key: f"f{index}" for index, key in enumerate(fields)}
    return model


def _upstream_unselected(binding: InputBinding, available: Collection[str]) -> list[str]:
    return [source.node for source in binding.sources if source.node not in available]


class _SchemaBuilder:
    def __init__(
        self,
        pipeline: PipelineDefinition,
        mode: Mode,
        selected: Collection[str],
        provided: Collection[str],
    ) -> None:
        self.pipeline = pipeline
        self.mode = mode
        self.selected = frozenset(selected)
        self.available = self.selected | frozenset(provided)
        self.hints: dict[str, str] = {}

    def solid_entry(self, node_name: str) -> FieldSpec:
        node = self.pipeline.nodes[node_name]
        selected = node_name in self.selected
        path = "solids." + ".solids.".join(node_name.split("."))
        fields: dict[str, FieldSpec] = {}
        required = False
        if node.solid.config_schema is not None:
            needs_config = selected and config_required(node.solid.config_schema)
            fields["config"] = _field(node.solid.config_schema, needs_config)
            required |= needs_config
        inputs: dict[str, FieldSpec] = {}
        for input_def in node.solid.inputs:
            binding = node.inputs.get(input_def.name)
            missing_upstream = _upstream_unselected(binding, self.available) if binding else []
            if binding is None:
                input_required = selected and not input_def.has_default
                inputs[input_def.name] = _input_field(input_def, input_required)
                self.hints[f"{path}.inputs.{input_def.name}"] = (
                    "the input is not wired to a solid, so give its value here"
                )
                required |= input_required
            elif missing_upstream:
                input_required = selected
                inputs[input_def.name] = _input_field(input_def, input_required)
                self.hints[f"{path}.inputs.{input_def.name}"] = (
                    f"upstream solid '{missing_upstream[0]}' is not selected, so give the value here"
                )
                required |= input_required
        if inputs:
            input_required = any(info.is_required() for _, info in inputs.values())
            fields["inputs"] = _field(_model(f"{node_name}_inputs", inputs), input_required)
        return _field(_model(f"{node_name}_entry", fields), required)

    def solids_level(self, prefix: str) -> tuple[FieldSpec, bool]:
        children: dict[str, list[str]] = {}
        for node_name in self.pipeline.nodes:
            if node_name.startswith(prefix):
                head = node_name[len(prefix) :].split(".", 1)[0]
                children.setdefault(head, []).append(node_name)
        fields: dict[str, FieldSpec] = {}
        for head in children:
            full = prefix + head
            if full in self.pipeline.nodes:
                fields[head] = self.solid_entry(full)
            else:
                inner, inner_required = self.solids_level(full + ".")
                fields[head] = _field(
                    _model(f"{full}_composite", {"solids": inner}), inner_required
                )
        model = _model(f"{prefix or 'pipeline'}_solids", fields)
        required = any(info.is_required() for _, info in fields.values())
        return _field(model, required), required

    def resources(self, needed: Collection[str]) -> tuple[FieldSpec, bool]:
        fields: dict[str, FieldSpec] = {}
        for key, definition in self.mode.resource_definitions().items():
            if definition.config_schema is None or definition.bound_config is not None:
                continue
            required = key in needed and config_required(definition.config_schema)
            entry = _model(
                f"{key}_resource", {"config": _field(definition.config_schema, required)}
            )
            fields[key] = _field(entry, required, definition.description)
        required = any(info.is_required() for _, info in fields.values())
        return _field(_model("resources", fields), required), required

    def build(self, executors: Mapping[str, type[Config]]) -> type[_Section]:
        needed = {
            key
            for name in self.selected
            for key in self.pipeline.nodes[name].solid.required_resource_keys
        }
        solids, _ = self.solids_level("")
        resources, _ = self.resources(needed)
        execution = _model(
            "execution", {name: _field(schema, False) for name, schema in executors.items()}
        )
        return _model(
            f"{self.pipeline.name}_run_config",
            {
                "solids": solids,
                "resources": resources,
                "execution": _field(execution, False),
                "storage": _field(StorageSettings, False),
            },
        )


_MODELS_KEPT = 32
_MODELS: OrderedDict[tuple[Any, ...], tuple[Any, type[_Section], dict[str, str]]] = OrderedDict()


def run_config_model(
    pipeline: PipelineDefinition,
    mode: Mode,
    selected: Collection[str],
    executors: Mapping[str, type[Config]],
    provided: Collection[str] = (),
) -> tuple[type[_Section], dict[str, str]]:
    """The pydantic model of the whole run_config, and extra hints for missing fields by path.

    `provided` names unselected nodes whose outputs an earlier run stored (re-execution).
    Models are remembered for the most recent pipelines, since building one is costly.
    """
    key = (
        id(pipeline),
        mode.name,
        frozenset(selected),
        frozenset(provided),
        tuple(executors.items()),
    )
    cached = _MODELS.get(key)
    if cached is not None and cached[0] is pipeline:
        _MODELS.move_to_end(key)
        return cached[1], cached[2]
    builder = _SchemaBuilder(pipeline, mode, selected, provided)
    model = builder.build(executors)
    _MODELS[key] = (pipeline, model, builder.hints)
    while len(_MODELS) > _MODELS_KEPT:
        _MODELS.popitem(last=False)
    return model, builder.hints


def _section(instance: _Section | None, key: str) -> Any:
    if instance is None:
        return None
    name = type(instance).field_by_key.get(key)
    return None if name is None else getattr(instance, name)


def _entry_for(validated: _Section, node_name: str) -> _Section | None:
    level = _section(validated, "solids")
    parts = node_name.split(".")
    for part in parts[:-1]:
        level = _section(_section(level, part), "solids")
    entry: _Section | None = _section(level, parts[-1])
    return entry


def _present(instance: BaseModel | None) -> dict[str, Any]:
    if instance is None:
        return {}
    return {
        info.alias or name: getattr(instance, name)
        for name, info in type(instance).model_fields.items()
        if name in instance.model_fields_set
    }


def _input_problem(name: str, data_type: DataType, value: Any) -> str | None:
    """Why `value` given in run_config cannot feed an input of `data_type`, or None."""
    outcome = data_type.type_check(value)
    if outcome.success:
        return None
    takes_mappings = any(issubclass(cls, Mapping) for cls in data_type.python_types)
    if isinstance(value, Mapping) and data_type.python_types and not takes_mappings:
        return (
            f"got a mapping, but input '{name}' takes a {data_type.name}: give the value itself "
            f"(such as '{name}: ...'), not a mapping like {{value: ...}}"
        )
    return f"expected {data_type.name}: {outcome.description}"


def validate_run_config(
    run_config: Mapping[str, Any] | None,
    pipeline: PipelineDefinition,
    mode: Mode,
    selected: Collection[str],
    executors: Mapping[str, type[Config]],
    provided: Collection[str] = (),
) -> ResolvedRunConfig:
    """Check run_config; raise ConfigError listing every problem with its dotted path."""
    if run_config is None:
        run_config = {}
    if not isinstance(run_config, Mapping):
        raise ConfigError([("", f"run_config must be a mapping, got {type(run_config).__name__}")])
    model, hints = run_config_model(pipeline, mode, selected, executors, provided)
    try:
        validated = model.model_validate(dict(run_config))
    except ValidationError as error:
        raise ConfigError(problems_of(error, model, hints)) from None
    problems: list[tuple[str, str]] = []
    solid_configs: dict[str, Any] = {}
    input_values: dict[str, dict[str, Any]] = {}
    for node_name, node in pipeline.nodes.items():
        entry = _entry_for(validated, node_name)
        solid_configs[node_name] = _section(entry, "config")
        values = _present(_section(entry, "inputs"))
        path = "solids." + ".solids.".join(node_name.split(".")) + ".inputs"
        for input_name, value in values.items():
            data_type = node.solid.input(input_name).data_type
            problem = None if data_type.loader else _input_problem(input_name, data_type, value)
            if problem is not None:
                problems.append((f"{path}.{input_name}", problem))
        if values:
            input_values[node_name] = values
    resources = _section(validated, "resources")
    resource_configs: dict[str, Config | None] = {}
    for key, definition in mode.resource_definitions().items():
        if definition.bound_config is None or definition.config_schema is None:
            resource_configs[key] = _section(_section(resources, key), "config")
            continue
        try:
            resource_configs[key] = validate_config(
                definition.config_schema, definition.bound_config
            )
        except ValidationError as error:
            problems.extend(
                (
                    ".".join(["resources", key, "config", *(str(part) for part in item["loc"])]),
                    f"{item['msg']} (in the config bound with .configured())",
                )
                for item in error.errors(include_url=False)
            )
    if problems:
        raise ConfigError(problems)
    execution = {
        name: value.model_dump()
        for name, value in _present(_section(validated, "execution")).items()
    }
    return ResolvedRunConfig(
        solid_configs=solid_configs,
        input_values=input_values,
        resource_configs=resource_configs,
        execution=execution,
        storage=_section(validated, "storage"),
    )
