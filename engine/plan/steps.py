"""Execution plans: a pipeline, validated run_config and a selection turned into steps."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from solidflow.definitions.graph import FromOutput, FromValue, InputBinding
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.resource import ResourceDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.plan.run_config import ResolvedRunConfig


@dataclass(frozen=True, slots=True)
class FromLoader:
    """The input is built, in the step, by its type's loader from `value`: the loader's
    validated config, given in run_config."""

    value: Any

    @property
    def sources(self) -> tuple[FromOutput, ...]:
        return ()


StepInputSource = InputBinding | FromLoader
"""Where a step input comes from: another step's output (the node name is the step key), a list
of outputs (fan-in), a fixed value (from run_config or a composite input's default), or its
type's loader."""


def addresses_read(sources: Mapping[str, StepInputSource]) -> list[tuple[str, str]]:
    """The (step, output) addresses that the input sources name, without repeats."""
    addresses = ((s.node, s.output) for source in sources.values() for s in source.sources)
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceSpec:
    """A resource of the run's mode with its validated config (serialisable)."""

    definition: ResourceDefinition
    config: Any
    """The validated config (a Config model, a plain value), None without config."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionStep:
    """One solid to run: its key, definition, validated config and where each input comes from."""

    key: str
    solid: SolidDefinition
    config: Any
    inputs: Mapping[str, StepInputSource]
    upstream: tuple[str, ...]

    def reads(self) -> list[tuple[str, str]]:
        """The (step, output) addresses of every output this step reads."""
        return addresses_read(self.inputs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionPlan:
    """The steps of a run in a topological order."""

    pipeline_name: str
    mode: str
    steps: Mapping[str, ExecutionStep]
    external: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """Store keys of outputs that steps read from outside the plan (an earlier run's outputs)."""
    resources: Mapping[str, ResourceSpec] = field(default_factory=dict)
    """The resources of the mode that the steps require, with their validated config."""

    def downstream(self) -> dict[str, list[str]]:
        """Each step key mapped to the keys of the steps that read its outputs."""
        children: dict[str, list[str]] = {key: [] for key in self.steps}
        for step in self.steps.values():
            for parent in step.upstream:
                children[parent].append(step.key)
        return children


def build_plan(
    pipeline: PipelineDefinition,
    mode: str,
    resolved: ResolvedRunConfig,
    selected: Collection[str],
    external: Mapping[tuple[str, str], str] | None = None,
) -> ExecutionPlan:
    """One step per selected node, inputs from run_config where given, else from the graph.

    `external` maps outputs of unselected nodes to store keys (an earlier run's outputs).
    run_config validation guarantees that every other input of a selected step whose upstream
    is not selected has a value.
    """
    steps: dict[str, ExecutionStep] = {}
    for name, node in pipeline.nodes.items():
        if name not in selected:
            continue
        given = resolved.input_values.get(name, {})
        sources: dict[str, StepInputSource] = {}
        for input_name, binding in node.inputs.items():
            if input_name not in given:
                sources[input_name] = binding
        for input_name, value in given.items():
            loads = node.solid.input(input_name).data_type.loader is not None
            sources[input_name] = FromLoader(value) if loads else FromValue(value)
        upstream = dict.fromkeys(step for step, _ in addresses_read(sources) if step in selected)
        steps[name] = ExecutionStep(
            key=name,
            solid=node.solid,
            config=resolved.solid_configs.get(name),
            inputs=sources,
            upstream=tuple(upstream),
        )
    required = {key for step in steps.values() for key in step.solid.required_resource_keys}
    resources = {
        key: ResourceSpec(definition=definition, config=resolved.resource_configs.get(key))
        for key, definition in pipeline.mode(mode).resource_definitions().items()
        if key in required
    }
    return ExecutionPlan(
        pipeline_name=pipeline.name,
        mode=mode,
        steps=steps,
        external=dict(external or {}),
        resources=resources,
    )
