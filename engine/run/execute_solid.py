"""execute_solid: run one solid on its own, for unit tests; no instance or event log needed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from solidflow.definitions.config import is_config_class, validate_config
from solidflow.definitions.events import DEFAULT_OUTPUT
from solidflow.definitions.graph import FromValue
from solidflow.definitions.resource import ResourceDefinition, as_resource_definition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventRecord
from solidflow.engine.events.sink import EventSink
from solidflow.engine.plan.steps import ResourceSpec
from solidflow.engine.run.results import StepEvents
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import NotProduced, StepResult, StepTask
from solidflow.errors import ConfigError, DefinitionError, StepFailure


class SolidExecutionResult(StepEvents):
    """The outcome of `execute_solid`."""

    __slots__ = ("_result", "events")

    def __init__(self, result: StepResult, events: list[EventRecord]) -> None:
        self._result = result
        self.events = events

    @property
    def success(self) -> bool:
        return self._result.success

    @property
    def failure_message(self) -> str | None:
        return self._result.message

    def output_value(self, name: str = DEFAULT_OUTPUT) -> Any:
        """The value the solid produced for output `name`."""
        if not self._result.success:
            raise ValueError(f"the solid failed: {self._result.message}")
        try:
            value = self._result.outputs[name]
        except KeyError:
            raise KeyError(
                f"no output '{name}'; outputs: {', '.join(self._result.outputs)}"
            ) from None
        if isinstance(value, NotProduced):
            raise ValueError(f"the solid did not produce its optional output '{name}'")
        return value


def _validated(schema: Any, config: Any, path: str) -> Any:
    if config is None and is_config_class(schema):
        config = {}
    try:
        return validate_config(schema, config)
    except ValidationError as error:
        raise ConfigError(
            [
                (".".join([path, *(str(part) for part in item["loc"])]), item["msg"])
                for item in error.errors(include_url=False)
            ]
        ) from None


def _resource_specs(
    solid: SolidDefinition, resources: Mapping[str, Any]
) -> dict[str, ResourceSpec]:
    missing = sorted(solid.required_resource_keys - set(resources))
    if missing:
        raise ConfigError(
            [
                (f"resources.{key}", f"solid '{solid.name}' requires this resource")
                for key in missing
            ]
        )
    specs = {}
    for key, value in resources.items():
        definition = as_resource_definition(value)
        config = None
        if isinstance(value, ResourceDefinition) and definition.config_schema is not None:
            config = _validated(
                definition.config_schema, definition.bound_config, f"resources.{key}.config"
            )
        specs[key] = ResourceSpec(definition=definition, config=config)
    return specs


def execute_solid(
    solid: SolidDefinition,
    inputs: Mapping[str, Any] | None = None,
    config: Any = None,
    resources: Mapping[str, Any] | None = None,
    *,
    raise_on_error: bool = True,
) -> SolidExecutionResult:
    """Run `solid` once in this process.

    `resources` maps a key to a plain object (used as is) or a ResourceDefinition (initialised
    and torn down; give its config with `.configured({...})`). Raises StepFailure when the solid
    fails and `raise_on_error` is set (the default), ConfigError for bad config or inputs.
    """
    if not isinstance(solid, SolidDefinition):
        raise DefinitionError(f"execute_solid needs a solid, got {solid!r}")
    inputs = dict(inputs or {})
    problems = [
        (f"inputs.{name}", f"solid '{solid.name}' has no input '{name}'")
        for name in inputs
        if name not in {i.name for i in solid.inputs}
    ] + [
        (f"inputs.{i.name}", "Field required")
        for i in solid.inputs
        if i.name not in inputs and not i.has_default
    ]
    if problems:
        raise ConfigError(problems)
    if solid.config_schema is None and config is not None:
        raise ConfigError([("config", f"solid '{solid.name}' takes no config")])
    config_value = (
        _validated(solid.config_schema, config, "config") if solid.config_schema else None
    )
    run_id = f"execute_solid-{uuid.uuid4().hex}"
    sink = EventSink(run_id, None)
    manager = ResourceManager(run_id, _resource_specs(solid, resources or {}), sink.emit)
    task = StepTask(
        run_id=run_id,
        pipeline_name=f"execute_solid:{solid.name}",
        step_key=solid.name,
        solid=solid,
        config=config_value,
        inputs={name: FromValue(value) for name, value in inputs.items()},
        handles={},
    )
    try:
        result = run_step(task, lambda handle: handle, manager, sink.emit)
    finally:
        teardown_failures = manager.teardown()
    if result.success and teardown_failures:
        result = StepResult(
            step_key=solid.name, success=False, message="; ".join(teardown_failures)
        )
    if raise_on_error and not result.success:
        raise StepFailure(
            result.message or "solid failed",
            step=solid.name,
            run_id=run_id,
            original=result.exception,
        ) from result.exception
    return SolidExecutionResult(result, sink.events)
