"""Prepare a run: check mode, selection, executor and run_config, and build the plan."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import Config
from solidflow.definitions.mode import Mode
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.executors import EXECUTOR_CONFIGS, Executor, executor_class
from solidflow.engine.instance import Instance
from solidflow.engine.plan.run_config import (
    ResolvedRunConfig,
    run_config_model,
    validate_run_config,
)
from solidflow.engine.plan.selection import select_steps
from solidflow.engine.plan.steps import ExecutionPlan, build_plan
from solidflow.errors import ConfigError, DefinitionError

Selection = str | Sequence[str] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """A run that passed validation: its mode, plan, config and executor."""

    mode: Mode
    plan: ExecutionPlan
    config: ResolvedRunConfig
    executor: type[Executor]


def _mode(pipeline: PipelineDefinition, name: str | None) -> Mode:
    try:
        return pipeline.mode(name)
    except KeyError:
        modes = ", ".join(pipeline.mode_names)
        if name is None:
            message = (
                f"pipeline '{pipeline.name}' has several modes and none is named 'default'; "
                f"choose one with mode= (--mode): {modes}"
            )
        else:
            message = f"unknown mode '{name}'; pipeline '{pipeline.name}' has modes: {modes}"
        raise ConfigError([("mode", message)]) from None


def _executor_schemas() -> dict[str, type[Config]]:
    return dict(EXECUTOR_CONFIGS)


def _selected(pipeline: PipelineDefinition, solid_selection: Selection) -> frozenset[str]:
    if solid_selection is None:
        return frozenset(pipeline.nodes)
    return select_steps(solid_selection, pipeline.upstream())


def _executor_name(
    executor: str | None, run_config: Mapping[str, Any] | None, instance: Instance
) -> str:
    execution = run_config.get("execution") if isinstance(run_config, Mapping) else None
    if executor is None and isinstance(execution, Mapping) and len(execution) == 1:
        executor = next(iter(execution))
    return executor or instance.config.default_executor


def require_pipeline(pipeline: object) -> None:
    """Raise DefinitionError unless `pipeline` was defined with @pipeline."""
    if not isinstance(pipeline, PipelineDefinition):
        raise DefinitionError(f"expected a pipeline defined with @pipeline, got {pipeline!r}")


def prepare_run(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None,
    mode: str | None,
    solid_selection: Selection,
    executor: str | None,
    instance: Instance,
    external: Mapping[tuple[str, str], str] | None = None,
) -> PreparedRun:
    """Validate everything about a run before it starts; raises ConfigError or SelectionError.

    `external` maps outputs of unselected steps to store keys of an earlier run's outputs."""
    require_pipeline(pipeline)
    chosen_mode = _mode(pipeline, mode)
    selected = _selected(pipeline, solid_selection)
    executor_cls = executor_class(_executor_name(executor, run_config, instance))
    provided = {node for node, _ in external or {}}
    resolved = validate_run_config(
        run_config, pipeline, chosen_mode, selected, _executor_schemas(), provided
    )
    plan = build_plan(pipeline, chosen_mode.name, resolved, selected, external)
    return PreparedRun(mode=chosen_mode, plan=plan, config=resolved, executor=executor_cls)


def store_location(prepared: PreparedRun, instance: Instance) -> tuple[str, dict[str, Any]]:
    """Where the run keeps step outputs: run_config's `storage`, else the instance's root."""
    storage = prepared.config.storage
    if storage is not None:
        return storage.root, dict(storage.storage_options)
    return instance.config.storage.root, {}


def pipeline_target(pipeline: PipelineDefinition) -> str | None:
    """'module:name' (or 'file.py:name' for scripts) from which the pipeline can be loaded."""
    fn = pipeline.fn
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    if module is None or getattr(module, fn.__name__, None) is not pipeline:
        return None
    if module.__name__ == "__main__":
        path = getattr(module, "__file__", None)
        return f"{path}:{fn.__name__}" if path else None
    return f"{module.__name__}:{fn.__name__}"


def config_schema(
    pipeline: PipelineDefinition, mode: str | None = None, solid_selection: Selection = None
) -> dict[str, Any]:
    """The JSON Schema of the pipeline's whole run_config (for `mode` and the selection)."""
    chosen_mode = _mode(pipeline, mode)
    selected = _selected(pipeline, solid_selection)
    model, _ = run_config_model(pipeline, chosen_mode, selected, _executor_schemas())
    return model.model_json_schema(by_alias=True)
