"""solidflow's engine: what every face (the command line, the HTTP API) asks of it.

Runs are executed, looked up and described here; plans, memo status, stored outputs and
garbage collection are returned as frozen dataclasses of plain values (strings, numbers,
lists, dicts; times as seconds since the epoch), which `dataclasses.asdict` turns into JSON.
The subpackages (plan, memo, run, step, executors, store, events, instance) are the
implementation and may change without notice.
"""

import typing

from solidflow.exports import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from solidflow.engine.events.describe import describe_event
    from solidflow.engine.events.records import EventRecord, EventType
    from solidflow.engine.executors import Executor
    from solidflow.engine.instance import Instance
    from solidflow.engine.instance.lookup import find_run
    from solidflow.engine.instance.runs import RunRecord, RunStatus
    from solidflow.engine.instance.storage import Recovery
    from solidflow.engine.instance.tags import priority_of
    from solidflow.engine.instance.ticks import (
        ScheduleState,
        ScheduleStatus,
        TickRecord,
        TickStatus,
    )
    from solidflow.engine.memo.explain import StepMemoStatus
    from solidflow.engine.memo.gc import GcReport, collect_garbage, parse_age
    from solidflow.engine.memo.inventory import StoreListing, list_stored_outputs
    from solidflow.engine.memo.reasons import KeyPart, RerunCause
    from solidflow.engine.memo.retention import RetentionReport, collect_runs, delete_runs
    from solidflow.engine.run.create import create_run
    from solidflow.engine.run.execute import execute_pipeline
    from solidflow.engine.run.execute_solid import SolidExecutionResult, execute_solid
    from solidflow.engine.run.launch import (
        DriverHealth,
        DriverState,
        InProcessRunLauncher,
        LaunchedRun,
        RunLauncher,
        launch_run,
    )
    from solidflow.engine.run.monitor import terminate_as_interrupt
    from solidflow.engine.run.prepare import config_schema
    from solidflow.engine.run.preview import (
        PipelinePlan,
        PlannedInput,
        PlannedSource,
        PlannedStep,
        plan_pipeline,
    )
    from solidflow.engine.run.queue import DequeuedRun, RunQueue, queued_runs
    from solidflow.engine.run.reexecute import create_reexecution, reexecute_pipeline
    from solidflow.engine.run.results import PipelineRunResult, SolidRunResult
    from solidflow.engine.run.scheduler import StepStatus
    from solidflow.engine.run.step_key import KeyedOutput, StepKey, explain_step
    from solidflow.engine.run.subprocess_launcher import SubprocessRunLauncher
    from solidflow.engine.run.supervise import RunSupervisor, SupervisedRun, SupervisorAction
    from solidflow.engine.run.targets import load_pipeline, target_location
    from solidflow.engine.schedules.manage import (
        ScheduleInfo,
        TickPreview,
        WorkspaceSchedules,
        collect_schedules,
        find_schedule,
        list_schedules,
        load_schedules,
        preview_schedule,
        schedule_info,
        schedule_ticks,
        start_schedule,
        stop_schedule,
    )
    from solidflow.engine.schedules.ticks import evaluate_schedules
    from solidflow.engine.step.context import SolidExecutionContext
    from solidflow.engine.store import StoredOutput
    from solidflow.engine.store.datasets import StoredDataset
    from solidflow.engine.sweeps.launch import Sweep, SweepRun, launch_sweep
    from solidflow.engine.sweeps.points import describe_point, parse_grid_option
    from solidflow.engine.sweeps.summary import (
        SweepOverview,
        SweepRow,
        SweepSummary,
        list_sweeps,
        sweep_summary,
    )

__getattr__, __dir__ = _lazy_exports(__name__)

__all__ = [
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
