"""Prepare a run: check mode, selection, executor and run_config, and build the plan."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import Config
from solidflow.definitions.mode import DEFAULT_MODE, Mode
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.executors import EXECUTORS, Executor
from solidflow.engine.instance import Instance
from solidflow.engine.plan.run_config import (
    ResolvedRunConfig,
    run_config_model,
    validate_run_config,
)
from solidflow.engine.plan.selection import select_steps
from solidflow.engine.plan.steps import ExecutionPlan, build_plan
from solidflow.engine.registry import PluginError, reference_of
from solidflow.engine.run.targets import FILE_MODULE_PREFIX
from solidflow.engine.store import IntermediateStore
from solidflow.errors import ConfigError, DefinitionError, RunArgumentError

Selection = str | Sequence[str] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """A run that passed validation: its mode, plan, config and executor (`executor_name` is
    its registered name or "package.module:Class", the key of its `execution` settings)."""

    mode: Mode
    plan: ExecutionPlan
    config: ResolvedRunConfig
    executor: type[Executor]
    executor_name: str

    def executor_config(self) -> Config:
        """The settings of the run's executor, from run_config's `execution` section."""
        settings = self.config.execution.get(self.executor_name, {})
        return self.executor.config_schema.model_validate(settings)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreLocation:
    """Where a run keeps step outputs."""

    root: str
    options: dict[str, Any]
    backend: str | None

    def open(self, warn: Callable[[str], object] | None = None) -> IntermediateStore:
        """The store at this location (close it after use); `warn` says what it repaired."""
        return IntermediateStore(self.root, self.options, backend=self.backend, warn=warn)


def pipeline_mode(pipeline: PipelineDefinition, name: str | None) -> Mode:
    """The pipeline's mode called `name` (its default mode for None); ConfigError if unknown,
    DefinitionError if the mode was set aside as broken."""
    broken = pipeline.broken_modes.get(DEFAULT_MODE if name is None else name)
    if broken is not None:
        raise DefinitionError(broken)
    try:
        return pipeline.mode(name)
    except KeyError:
        modes = ", ".join(
            [*pipeline.mode_names, *(f"{mode} (broken)" for mode in pipeline.broken_modes)]
        )
        if name is None:
            message = (
                f"pipeline '{pipeline.name}' has several modes and none is named 'default'; "
                f"choose one with mode= (--mode): {modes}"
            )
        else:
            message = f"unknown mode '{name}'; pipeline '{pipeline.name}' has modes: {modes}"
        raise RunArgumentError([("mode", message)]) from None


def executor_name(executor: Executor) -> str:
    """The name `executor`'s class is registered under, else its "package.module:Class"."""
    cls = type(executor)
    name = getattr(cls, "name", None)
    if isinstance(name, str) and name in EXECUTORS.names():
        try:
            if EXECUTORS.load(name) is cls:
                return name
        except PluginError:
            pass
    return reference_of(cls)


def _executor(
    executor: str | Executor | None, run_config: Mapping[str, Any] | None, instance: Instance
) -> tuple[str, type[Executor]]:
    """The name and class of the run's executor; ConfigError if it cannot be loaded."""
    if isinstance(executor, Executor):
        return executor_name(executor), type(executor)
    name = _executor_name(executor, run_config, instance)
    try:
        return name, EXECUTORS.load(name)
    except PluginError as error:
        if executor is None:  # named by run_config's execution section
            raise ConfigError([("execution", str(error))]) from None
        raise RunArgumentError([("execution", str(error))]) from None


def selected_nodes(pipeline: PipelineDefinition, solid_selection: Selection) -> frozenset[str]:
    """The nodes `solid_selection` picks (all of them for None)."""
    if solid_selection is None:
        return frozenset(pipeline.nodes)
    return select_steps(solid_selection, pipeline.upstream(), pipeline_name=pipeline.name)


def _executor_name(
    executor: str | None, run_config: Mapping[str, Any] | None, instance: Instance
) -> str:
    """The executor named by `executor`, else by run_config's `execution`, else the
    instance's default."""
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
    executor: str | Executor | None,
    instance: Instance,
    external: Mapping[tuple[str, str], str] | None = None,
) -> PreparedRun:
    """Validate everything about a run before it starts; raises ConfigError or SelectionError.

    `executor` is a registered name, a "package.module:Class" or an Executor (default: the
    one run_config's `execution` names, else the instance's). `external` maps outputs of
    unselected steps to store keys of an earlier run's outputs."""
    require_pipeline(pipeline)
    chosen_mode = pipeline_mode(pipeline, mode)
    selected = selected_nodes(pipeline, solid_selection)
    name, executor_cls = _executor(executor, run_config, instance)
    provided = {node for node, _ in external or {}}
    schemas = {**EXECUTORS.config_schemas(), name: executor_cls.config_schema}
    resolved = validate_run_config(run_config, pipeline, chosen_mode, selected, schemas, provided)
    plan = build_plan(pipeline, chosen_mode.name, resolved, selected, external)
    return PreparedRun(
        mode=chosen_mode, plan=plan, config=resolved, executor=executor_cls, executor_name=name
    )


def store_location(config: ResolvedRunConfig, instance: Instance) -> StoreLocation:
    """Where a run keeps step outputs: its run_config's `storage`, else the instance's."""
    storage = config.storage
    settings = instance.config.storage
    if storage is not None and storage.root is not None:
        return StoreLocation(
            root=storage.root, options=dict(storage.storage_options), backend=storage.backend
        )
    backend = storage.backend if storage is not None and storage.backend else settings.backend
    return StoreLocation(
        root=settings.root, options=dict(settings.storage_options), backend=backend
    )


def store_durability(config: ResolvedRunConfig, instance: Instance) -> str:
    """How durably a run stores outputs: its run_config's `storage.durability`, else the
    instance's."""
    storage = config.storage
    if storage is not None and storage.durability is not None:
        return storage.durability
    return instance.config.storage.durability


def pipeline_target(pipeline: PipelineDefinition) -> str | None:
    """'module:name' (or 'file.py:name' for scripts) from which the pipeline can be loaded."""
    fn = pipeline.fn
    if fn is None:
        return None
    module = sys.modules.get(getattr(fn, "__module__", ""))
    found = getattr(module, fn.__name__, None) if module is not None else None
    # The module may have been loaded again since (a file target loaded twice): its pipeline
    # of the same name is this one's equal.
    if module is None or not isinstance(found, PipelineDefinition) or found.name != pipeline.name:
        return None
    if module.__name__ == "__main__" or module.__name__.startswith(FILE_MODULE_PREFIX):
        path = getattr(module, "__file__", None)
        return f"{path}:{fn.__name__}" if path else None
    return f"{module.__name__}:{fn.__name__}"


def config_schema(
    pipeline: PipelineDefinition, mode: str | None = None, solid_selection: Selection = None
) -> dict[str, Any]:
    """The JSON Schema of the pipeline's whole run_config (for `mode` and the selection)."""
    chosen_mode = pipeline_mode(pipeline, mode)
    selected = selected_nodes(pipeline, solid_selection)
    model, _ = run_config_model(pipeline, chosen_mode, selected, EXECUTORS.config_schemas())
    return model.model_json_schema(by_alias=True)
