"""The public API: what `solidflow` and `solidflow.engine` export, pinned so that a change to
it is a deliberate one."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import solidflow
import solidflow.engine

SOLIDFLOW = [
    "CompositeSolidDefinition",
    "Config",
    "DataType",
    "DependencyDefinition",
    "EventRecord",
    "EventType",
    "ExpectationResult",
    "InitContext",
    "Instance",
    "Materialization",
    "Mode",
    "MultiDependencyDefinition",
    "Out",
    "Output",
    "PipelineDefinition",
    "PipelineRunResult",
    "ResourceDefinition",
    "RetryPolicy",
    "RunRecord",
    "RunStatus",
    "ScheduleContext",
    "ScheduleDefinition",
    "SolidDefinition",
    "SolidExecutionContext",
    "SolidExecutionResult",
    "SolidInvocation",
    "SolidRunResult",
    "StepStatus",
    "StoredDataset",
    "StoredOutput",
    "TypeCheck",
    "TypeLoader",
    "check_type",
    "composite_solid",
    "config_schema",
    "create_reexecution",
    "create_run",
    "execute_pipeline",
    "execute_solid",
    "launch_run",
    "launch_sweep",
    "pipeline",
    "reexecute_pipeline",
    "resource",
    "schedule",
    "solid",
    "sweep_summary",
    "type_loader",
]

ENGINE = [
    "DequeuedRun",
    "DriverHealth",
    "DriverState",
    "EventRecord",
    "EventType",
    "Executor",
    "GcReport",
    "InProcessRunLauncher",
    "Instance",
    "KeyPart",
    "KeyedOutput",
    "LaunchedRun",
    "PipelinePlan",
    "PipelineRunResult",
    "PlannedInput",
    "PlannedSource",
    "PlannedStep",
    "Recovery",
    "RerunCause",
    "RetentionReport",
    "RunLauncher",
    "RunQueue",
    "RunRecord",
    "RunStatus",
    "RunSupervisor",
    "ScheduleInfo",
    "ScheduleState",
    "ScheduleStatus",
    "SolidExecutionContext",
    "SolidExecutionResult",
    "SolidRunResult",
    "StepKey",
    "StepMemoStatus",
    "StepStatus",
    "StoreListing",
    "StoredDataset",
    "StoredOutput",
    "SubprocessRunLauncher",
    "SupervisedRun",
    "SupervisorAction",
    "Sweep",
    "SweepOverview",
    "SweepRow",
    "SweepRun",
    "SweepSummary",
    "TickPreview",
    "TickRecord",
    "TickStatus",
    "WorkspaceSchedules",
    "collect_garbage",
    "collect_runs",
    "collect_schedules",
    "config_schema",
    "create_reexecution",
    "create_run",
    "delete_runs",
    "describe_event",
    "describe_point",
    "evaluate_schedules",
    "execute_pipeline",
    "execute_solid",
    "explain_step",
    "find_run",
    "find_schedule",
    "launch_run",
    "launch_sweep",
    "list_schedules",
    "list_stored_outputs",
    "list_sweeps",
    "load_pipeline",
    "load_schedules",
    "parse_age",
    "parse_grid_option",
    "plan_pipeline",
    "preview_schedule",
    "priority_of",
    "queued_runs",
    "reexecute_pipeline",
    "schedule_info",
    "schedule_ticks",
    "start_schedule",
    "stop_schedule",
    "sweep_summary",
    "target_location",
    "terminate_as_interrupt",
]

FACE_RESULTS = [
    "DequeuedRun",
    "DriverHealth",
    "GcReport",
    "KeyPart",
    "KeyedOutput",
    "PipelinePlan",
    "PlannedInput",
    "PlannedSource",
    "PlannedStep",
    "Recovery",
    "RerunCause",
    "RunRecord",
    "ScheduleInfo",
    "ScheduleState",
    "StepKey",
    "StepMemoStatus",
    "StoreListing",
    "StoredOutput",
    "SupervisedRun",
    "Sweep",
    "SweepRow",
    "SweepRun",
    "SweepSummary",
    "TickPreview",
    "TickRecord",
]


@pytest.mark.parametrize(
    ("module", "expected"), [(solidflow, SOLIDFLOW), (solidflow.engine, ENGINE)]
)
def test_exported_members(module, expected) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert module.__all__ == expected
    for name in module.__all__:
        assert getattr(module, name) is not None
    others = [name for name in vars(module) if not name.startswith("_") and name not in expected]
    assert all(inspect.ismodule(getattr(module, name)) for name in others), others


def test_solidflow_exports_the_engine_objects_themselves() -> None:
    for name in set(SOLIDFLOW) & set(ENGINE):
        assert getattr(solidflow, name) is getattr(solidflow.engine, name)


def _functions():
    for module in (solidflow, solidflow.engine):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                yield f"{module.__name__}.{name}", value


@pytest.mark.parametrize(("name", "function"), list(_functions()))
def test_flags_of_public_functions_are_keyword_only(name, function) -> None:
    for parameter in inspect.signature(function).parameters.values():
        if isinstance(parameter.default, bool) or parameter.annotation in ("bool", "bool | None"):
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}({parameter.name})"


@pytest.mark.parametrize("name", FACE_RESULTS)
def test_face_results_are_frozen_keyword_only_dataclasses(name) -> None:
    cls = getattr(solidflow.engine, name)
    assert dataclasses.is_dataclass(cls)
    params = cls.__dataclass_params__
    assert params.frozen
    assert all(field.kw_only for field in dataclasses.fields(cls))
