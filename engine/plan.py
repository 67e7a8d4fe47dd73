"""Execution plans: a pipeline, validated run_config and a selection turned into steps."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import Config
from solidflow.definitions.graph import FanIn, FromOutput, FromValue
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.run_config import ResolvedRunConfig


@dataclass(frozen=True, slots=True)
class FromStepOutput:
    """The input is output `output` of step `step` of the same run."""

    step: str
    output: str


@dataclass(frozen=True, slots=True)
class FromStepOutputs:
    """The input is a list of several step outputs (fan-in), in order."""

    sources: tuple[FromStepOutput, ...]


@dataclass(frozen=True, slots=True)
class FromConfigValue:
    """The input is a fixed value: given in run_config, or a composite input's default."""

    value: Any


StepInputSource = FromStepOutput | FromStepOutputs | FromConfigValue


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionStep:
    """One solid to run: its key, definition, validated config and where each input comes from."""

    key: str
    solid: SolidDefinition
    config: Config | None
    inputs: Mapping[str, StepInputSource]
    upstream: tuple[str, ...]

    def describe_inputs(self) -> dict[str, str]:
        """Each input's source as text, for plans shown to people."""
        described = {}
        for name, source in self.inputs.items():
            if isinstance(source, FromStepOutput):
                described[name] = f"{source.step}.{source.output}"
            elif isinstance(source, FromStepOutputs):
                described[name] = (
                    "[" + ", ".join(f"{s.step}.{s.output}" for s in source.sources) + "]"
                )
            else:
                described[name] = "value from run_config"
        return described


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionPlan:
    """The steps of a run in a topological order."""

    pipeline_name: str
    mode: str
    steps: Mapping[str, ExecutionStep]

    @property
    def resource_keys(self) -> frozenset[str]:
        """The resources that the plan's steps need."""
        return frozenset(
            key for step in self.steps.values() for key in step.solid.required_resource_keys
        )

    def downstream(self) -> dict[str, list[str]]:
        """Each step key mapped to the keys of the steps that read its outputs."""
        children: dict[str, list[str]] = {key: [] for key in self.steps}
        for step in self.steps.values():
            for parent in step.upstream:
                children[parent].append(step.key)
        return children


def _source(binding: FromOutput | FanIn | FromValue) -> StepInputSource:
    if isinstance(binding, FromOutput):
        return FromStepOutput(binding.node, binding.output)
    if isinstance(binding, FanIn):
        return FromStepOutputs(tuple(FromStepOutput(s.node, s.output) for s in binding.sources))
    return FromConfigValue(binding.value)


def _upstream(sources: Mapping[str, StepInputSource]) -> tuple[str, ...]:
    keys: list[str] = []
    for source in sources.values():
        if isinstance(source, FromStepOutput):
            keys.append(source.step)
        elif isinstance(source, FromStepOutputs):
            keys.extend(s.step for s in source.sources)
    return tuple(dict.fromkeys(keys))


def build_plan(
    pipeline: PipelineDefinition,
    mode: str,
    resolved: ResolvedRunConfig,
    selected: Collection[str],
) -> ExecutionPlan:
    """One step per selected node, inputs from run_config where given, else from the graph.

    run_config validation guarantees that every input of a selected step whose upstream is not
    selected has a value.
    """
    steps: dict[str, ExecutionStep] = {}
    for name, node in pipeline.nodes.items():
        if name not in selected:
            continue
        given = resolved.input_values.get(name, {})
        sources: dict[str, StepInputSource] = {}
        for input_name, binding in node.inputs.items():
            if input_name not in given:
                sources[input_name] = _source(binding)
        for input_name, value in given.items():
            sources[input_name] = FromConfigValue(value)
        steps[name] = ExecutionStep(
            key=name,
            solid=node.solid,
            config=resolved.solid_configs.get(name),
            inputs=sources,
            upstream=_upstream(sources),
        )
    return ExecutionPlan(pipeline_name=pipeline.name, mode=mode, steps=steps)
