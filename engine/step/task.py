"""What a process needs to run one step (StepTask), and how the step ended (StepResult)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from solidflow.definitions.config import Config
from solidflow.definitions.graph import FanIn, FromOutput
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.plan.steps import StepInputSource
from solidflow.engine.step.error_info import ErrorInfo

OutputAddress = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTask:
    """Everything a process needs to run one step; serialisable with cloudpickle.

    `inputs` says where each input comes from; `handles` maps the (step, output) addresses it
    names to executor-specific references (the values themselves in-process, object refs on Ray).
    `output_keys` are the store keys the outputs are written under; `memo_key` and `lineage`
    are the step's key and what it is made of. `outputs_missing` says that the run found none
    of the outputs stored when it started, so storing them need not look for them again.
    """

    run_id: str
    pipeline_name: str
    step_key: str
    solid: SolidDefinition
    config: Config | None
    inputs: Mapping[str, StepInputSource]
    handles: Mapping[OutputAddress, Any]
    output_keys: Mapping[str, str] = field(default_factory=dict)
    memo_key: str | None = None
    lineage: Mapping[str, Any] | None = None
    outputs_missing: bool = False

    def input_values(self, fetch: Callable[[Any], Any]) -> dict[str, Any]:
        """Each input's value, with `fetch` turning a handle into the value it refers to."""
        values: dict[str, Any] = {}
        for name, source in self.inputs.items():
            if isinstance(source, FromOutput):
                values[name] = fetch(self.handles[(source.node, source.output)])
            elif isinstance(source, FanIn):
                values[name] = [fetch(self.handles[(s.node, s.output)]) for s in source.sources]
            else:
                values[name] = source.value
        return values


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """How a step ended: its output values, or what went wrong."""

    step_key: str
    success: bool
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    message: str | None = None
    exception: BaseException | None = None
    skipped_because: str | None = None
