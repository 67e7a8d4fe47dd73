"""solidflow's engine: what every face (the command line, the HTTP API) asks of it.

Runs are executed, looked up and described here; plans, memo status, stored outputs and
garbage collection are returned as frozen dataclasses of plain values (strings, numbers,
lists, dicts; times as seconds since the epoch), which `dataclasses.asdict` turns into JSON.
The subpackages (plan, memo, run, step, executors, store, events, instance) are the
implementation and may change without notice.
"""

from solidflow.engine.events.describe import describe_event
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.executors import Executor
from solidflow.engine.instance import Instance
from solidflow.engine.instance.lookup import find_run
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.memo.explain import RerunCause, StepMemoStatus
from solidflow.engine.memo.gc import GcReport, collect_garbage, parse_age
from solidflow.engine.memo.inventory import StoreListing, list_stored_outputs
from solidflow.engine.run.create import create_run
from solidflow.engine.run.execute import execute_pipeline
from solidflow.engine.run.execute_solid import SolidExecutionResult, execute_solid
from solidflow.engine.run.launch import (
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
from solidflow.engine.run.reexecute import create_reexecution, reexecute_pipeline
from solidflow.engine.run.results import PipelineRunResult, SolidRunResult
from solidflow.engine.run.scheduler import StepStatus
from solidflow.engine.run.subprocess_launcher import SubprocessRunLauncher
from solidflow.engine.run.targets import load_pipeline
from solidflow.engine.step.context import SolidExecutionContext
from solidflow.engine.store import StoredOutput
from solidflow.engine.store.datasets import StoredDataset

__all__ = [
    "EventRecord",
    "EventType",
    "Executor",
    "GcReport",
    "InProcessRunLauncher",
    "Instance",
    "LaunchedRun",
    "PipelinePlan",
    "PipelineRunResult",
    "PlannedInput",
    "PlannedSource",
    "PlannedStep",
    "RerunCause",
    "RunLauncher",
    "RunRecord",
    "RunStatus",
    "SolidExecutionContext",
    "SolidExecutionResult",
    "SolidRunResult",
    "StepMemoStatus",
    "StepStatus",
    "StoreListing",
    "StoredDataset",
    "StoredOutput",
    "SubprocessRunLauncher",
    "collect_garbage",
    "config_schema",
    "create_reexecution",
    "create_run",
    "describe_event",
    "execute_pipeline",
    "execute_solid",
    "find_run",
    "launch_run",
    "list_stored_outputs",
    "load_pipeline",
    "parse_age",
    "plan_pipeline",
    "reexecute_pipeline",
    "terminate_as_interrupt",
]
