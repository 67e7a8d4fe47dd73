"""Execution plans: a pipeline, validated run_config and a selection turned into steps."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from solidflow.definitions.config import Config
from solidflow.definitions.graph import FanIn, FromOutput, FromValue, InputBinding
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.run_config import ResolvedRunConfig

StepInputSource = InputBinding
"""Where a step input comes from: another step's output (the node name is the step key), a list
of outputs (fan-in), or a fixed value (from run_config or a composite input's default)."""


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
            if isinstance(source, FromOutput):
                described[name] = f"{source.node}.{source.output}"
            elif isinstance(source, FanIn):
                described[name] = (
                    "[" + ", ".join(f"{s.node}.{s.output}" for s in source.sources) + "]"
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


def _upstream(sources: Mapping[str, StepInputSource]) -> tuple[str, ...]:
    keys: list[str] = []
    for source in sources.values():
        if isinstance(source, FromOutput):
            keys.append(source.node)
        elif isinstance(source, FanIn):
            keys.extend(s.node for s in source.sources)
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
                sources[input_name] = binding
        for input_name, value in given.items():
            sources[input_name] = FromValue(value)
        steps[name] = ExecutionStep(
            key=name,
            solid=node.solid,
            config=resolved.solid_configs.get(name),
            inputs=sources,
            upstream=_upstream(sources),
        )
    return ExecutionPlan(pipeline_name=pipeline.name, mode=mode, steps=steps)
