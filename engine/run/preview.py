"""What a run of a pipeline would do, without running it: its steps in order, where each
input comes from and, for a memoized run, which steps would take their outputs from the store
and why the others would run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.graph import FanIn, FromOutput, InputBinding
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.executors import EXECUTORS
from solidflow.engine.instance import Instance
from solidflow.engine.memo.explain import StepMemoStatus, memo_statuses
from solidflow.engine.memo.memoization import (
    MemoKeys,
    assess_outputs,
    memoized_steps,
    plan_keys,
)
from solidflow.engine.plan.run_config import ResolvedRunConfig, validate_run_config
from solidflow.engine.plan.steps import (
    ExecutionPlan,
    ExecutionStep,
    FromLoader,
    StepInputSource,
    build_plan,
)
from solidflow.engine.run.prepare import (
    Selection,
    pipeline_mode,
    require_pipeline,
    selected_nodes,
    store_location,
)
from solidflow.engine.store.records import Assessment
from solidflow.errors import ConfigError

_NO_CONFIG = ResolvedRunConfig(solid_configs={}, input_values={}, resource_configs={}, execution={})


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedSource:
    """An output that a step input reads: output `output` of step `step`."""

    step: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedInput:
    """Where one input of a step comes from.

    Args:
        name: the input's name.
        kind: "output" (another step's output), "fan_in" (a list of outputs), "config" (a
            value from run_config: given there, or to be given there because the input is not
            wired or its upstream step is not selected), "loader" (built by its type's loader
            from config given in run_config) or "default" (a composite input's default value).
        sources: the outputs read, for "output" and "fan_in"; else empty.
        text: the source in words, e.g. "double.result" or "value from run_config".
    """

    name: str
    kind: str
    sources: list[PlannedSource]
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedStep:
    """One step of a plan.

    Args:
        key: the step key (the solid's name in the pipeline, `composite.inner` inside
            composites).
        solid: the name of the solid's definition.
        inputs: where each input comes from.
        outputs: the names of the step's outputs.
        upstream: the keys of the steps of the plan whose outputs it reads.
        memo: what a memoized run would do with the step; None unless memo status was asked.
    """

    key: str
    solid: str
    inputs: list[PlannedInput]
    outputs: list[str]
    upstream: list[str]
    memo: StepMemoStatus | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelinePlan:
    """The plan of a run: its steps in the order they may run.

    Args:
        pipeline: the pipeline's name.
        mode: the mode the run would use.
        steps: the selected steps in a topological order.
        config_errors: the problems of the run_config as (path, message) pairs (the
            structure is known without it; memo status is not); empty when it is valid.
        memo_checked: whether the steps carry their memo status.
        warnings: what keeps memo status from being exact (a data version that could not be
            read, a corrupt stored output).
    """

    pipeline: str
    mode: str
    steps: list[PlannedStep]
    config_errors: list[tuple[str, str]]
    memo_checked: bool
    warnings: list[str]


def _source_text(source: FromOutput) -> str:
    return f"{source.node}.{source.output}"


def _planned_input(
    name: str, source: StepInputSource | None, wired: InputBinding | None, plan: ExecutionPlan
) -> PlannedInput:
    """Where input `name` of a step comes from: `source` is its source in the plan (None
    for an unwired input that run_config must give), `wired` its binding in the pipeline."""
    if isinstance(source, (FromOutput, FanIn)):
        outside = [s.node for s in source.sources if s.node not in plan.steps]
        if outside:
            text = f"value from run_config (upstream '{outside[0]}' is not selected)"
            return PlannedInput(name=name, kind="config", sources=[], text=text)
        sources = [PlannedSource(step=s.node, output=s.output) for s in source.sources]
        if isinstance(source, FromOutput):
            return PlannedInput(
                name=name, kind="output", sources=sources, text=_source_text(source)
            )
        text = "[" + ", ".join(_source_text(s) for s in source.sources) + "]"
        return PlannedInput(name=name, kind="fan_in", sources=sources, text=text)
    if isinstance(source, FromLoader):
        text = "loaded from run_config by its type's loader"
        return PlannedInput(name=name, kind="loader", sources=[], text=text)
    if source is not None and source is wired:
        return PlannedInput(name=name, kind="default", sources=[], text="default value")
    return PlannedInput(name=name, kind="config", sources=[], text="value from run_config")


def _planned_step(
    step: ExecutionStep,
    pipeline: PipelineDefinition,
    plan: ExecutionPlan,
    memo: StepMemoStatus | None,
) -> PlannedStep:
    wired = pipeline.nodes[step.key].inputs
    return PlannedStep(
        key=step.key,
        solid=step.solid.name,
        inputs=[
            _planned_input(each.name, step.inputs.get(each.name), wired.get(each.name), plan)
            for each in step.solid.inputs
            if each.name in step.inputs or not each.has_default
        ],
        outputs=list(step.solid.output_names),
        upstream=list(step.upstream),
        memo=memo,
    )


def memo_of(
    plan: ExecutionPlan, config: ResolvedRunConfig, instance: Instance, warnings: list[str]
) -> tuple[dict[str, MemoKeys], dict[str, Assessment], dict[str, StepMemoStatus]]:
    """The keys of the plan's steps, the assessment of their outputs in the store and their
    memo statuses; what keeps them from being exact is appended to `warnings`."""

    def warn(_step: str | None, message: str) -> None:
        warnings.append(message)

    keys = plan_keys(plan, warn)
    store = store_location(config, instance).open()
    try:
        found = assess_outputs(keys, store)
    finally:
        store.close()
    memoized = memoized_steps(keys, found, warn)

    def mode_of_run(run_id: str) -> str | None:
        run = instance.get_run(run_id)
        return None if run is None else run.mode

    statuses = memo_statuses(
        keys,
        found,
        memoized,
        lambda step: instance.storage.latest_step_end(plan.pipeline_name, step),
        mode_of_run,
        plan.mode,
    )
    return keys, found, {status.step: status for status in statuses}


def plan_pipeline(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None = None,
    mode: str | None = None,
    solid_selection: Selection = None,
    *,
    memoize: bool = False,
    instance: Instance | None = None,
) -> PipelinePlan:
    """The plan of a run of `pipeline`, without running anything.

    The structure (steps, their order, where inputs come from) needs no run_config: when it
    is missing or invalid, inputs that it must give show as "config" and `config_errors`
    says what is wrong with it. With `memoize`, each step carries its memo status (which needs
    a valid run_config; without one the steps carry none) from the store and event log of
    `instance` (default: `Instance()`).

    Raises:
        SelectionError: the selection is invalid.
        ConfigError: there is no mode `mode`.
    """
    require_pipeline(pipeline)
    chosen_mode = pipeline_mode(pipeline, mode)
    selected = selected_nodes(pipeline, solid_selection)
    try:
        config = validate_run_config(
            run_config, pipeline, chosen_mode, selected, EXECUTORS.config_schemas()
        )
        config_errors: list[tuple[str, str]] = []
    except ConfigError as error:
        config, config_errors = _NO_CONFIG, list(error.errors)
    plan = build_plan(pipeline, chosen_mode.name, config, selected)
    warnings: list[str] = []
    memos: dict[str, StepMemoStatus] = {}
    if memoize and not config_errors:
        memos = memo_of(plan, config, instance or Instance(), warnings)[2]
    return PipelinePlan(
        pipeline=pipeline.name,
        mode=chosen_mode.name,
        steps=[
            _planned_step(step, pipeline, plan, memos.get(step.key)) for step in plan.steps.values()
        ],
        config_errors=config_errors,
        memo_checked=bool(memos),
        warnings=list(dict.fromkeys(warnings)),
    )
