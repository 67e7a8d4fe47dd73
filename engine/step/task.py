"""What a process needs to run one step (StepTask), and how the step ended (StepResult)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    of the outputs stored when it started, so storing them need not look for them again;
    `replace_outputs` that its outputs replace those stored under their keys (the run does
    not memoize: what it computed must be what later runs find).
    `readers` counts, per output, the steps of the run that read it (none when absent).
    """

    run_id: str
    pipeline_name: str
    step_key: str
    solid: SolidDefinition
    config: Any
    inputs: Mapping[str, StepInputSource]
    handles: Mapping[OutputAddress, Any]
    output_keys: Mapping[str, str] = field(default_factory=dict)
    memo_key: str | None = None
    lineage: Mapping[str, Any] | None = None
    outputs_missing: bool = False
    replace_outputs: bool = False
    readers: Mapping[str, int] = field(default_factory=dict)

    def input_values(self, fetch: Callable[[Any], Any]) -> dict[str, Any]:
        """Each input's value, with `fetch` turning a handle into the value it refers to."""
        return {name: self.input_value(name, fetch) for name in self.inputs}

    def input_value(self, name: str, fetch: Callable[[Any], Any]) -> Any:
        """The value of input `name`, with `fetch` turning a handle into its value."""
        source = self.inputs[name]
        if isinstance(source, FromOutput):
            return fetch(self.handles[(source.node, source.output)])
        if isinstance(source, FanIn):
            return [fetch(self.handles[(s.node, s.output)]) for s in source.sources]
        return source.value


@dataclass(frozen=True, slots=True)
class NotProduced:
    """Stands for an optional output that its step did not produce (stored under the output's
    key like a value): the steps that read it are skipped."""

    step: str
    output: str

    @property
    def address(self) -> str:
        return f"{self.step}.{self.output}"


def present_inputs(
    inputs: Mapping[str, StepInputSource], values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[NotProduced]]:
    """The input values without the outputs that were not produced, and those whose absence
    skips the step: an input that reads one output, or a fan-in input none of whose outputs
    was produced (otherwise it gets the list of those that were), as in Dagster."""
    present: dict[str, Any] = {}
    absent: list[NotProduced] = []
    for name, value in values.items():
        if isinstance(inputs.get(name), FanIn):
            produced = [item for item in value if not isinstance(item, NotProduced)]
            if value and not produced:
                absent.extend(value)
            present[name] = produced
        elif isinstance(value, NotProduced):
            absent.append(value)
        else:
            present[name] = value
    return present, absent


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """How a step ended: its output values (NotProduced for optional outputs it did not
    produce), or what went wrong, or why it did not run.

    `skipped_because` names the upstream step that failed; `missing_inputs` the upstream
    outputs ("step.output") that were not produced; `resource_failure` the resource that
    failed to initialise before the step could start; `canceled` says that the run's cancel
    stopped the step before its end.
    """

    step_key: str
    success: bool
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    message: str | None = None
    exception: BaseException | None = None
    skipped_because: str | None = None
    missing_inputs: tuple[str, ...] = ()
    resource_failure: str | None = None
    canceled: bool = False
