"""solidflow: typed, testable data pipelines run in-process, on Ray or on Spark.

The public API is what this module exports; everything else may change without notice.
"""

import logging
import typing

from solidflow.exports import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from solidflow.definitions.composite import CompositeSolidDefinition, composite_solid
    from solidflow.definitions.config import Config
    from solidflow.definitions.dependencies import (
        DependencyDefinition,
        MultiDependencyDefinition,
        SolidInvocation,
    )
    from solidflow.definitions.events import ExpectationResult, Materialization, Output
    from solidflow.definitions.loaders import TypeLoader, type_loader
    from solidflow.definitions.mode import Mode
    from solidflow.definitions.pipeline import PipelineDefinition, pipeline
    from solidflow.definitions.resource import InitContext, ResourceDefinition, resource
    from solidflow.definitions.retry import RetryPolicy
    from solidflow.definitions.schedule import ScheduleContext, ScheduleDefinition, schedule
    from solidflow.definitions.solid import Out, SolidDefinition, solid
    from solidflow.definitions.types import DataType, TypeCheck, check_type
    from solidflow.engine import (
        EventRecord,
        EventType,
        Instance,
        PipelineRunResult,
        RunRecord,
        RunStatus,
        SolidExecutionContext,
        SolidExecutionResult,
        SolidRunResult,
        StepStatus,
        StoredDataset,
        StoredOutput,
        config_schema,
        create_reexecution,
        create_run,
        execute_pipeline,
        execute_solid,
        launch_run,
        launch_sweep,
        reexecute_pipeline,
        sweep_summary,
    )

__getattr__, __dir__ = _lazy_exports(__name__)

__version__ = "0.1.0"

logging.getLogger("solidflow").addHandler(logging.NullHandler())

__all__ = [
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
