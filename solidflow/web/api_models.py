"""The typed shapes of the HTTP API (its OpenAPI document is generated from them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """One problem, at a path of the request (a config path such as
    `solids.load.config.rows`, `selection`, or a request field)."""

    path: str
    message: str


class Error(BaseModel):
    """What every failed request returns, under "error".

    kind: "config", "selection", "not_found", "bad_request", "conflict", "read_only",
    "forbidden", "launch", "user_code" or "unavailable".
    """

    kind: str
    message: str
    errors: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: Error


class SourceInfo(BaseModel):
    node: str
    output: str


class InputInfo(BaseModel):
    name: str
    type: str
    kind: str = Field(description='"output", "fan_in", "config", "loader" or "default"')
    sources: list[SourceInfo] = Field(description="the outputs read (output and fan_in)")
    text: str = Field(description='the source in words, e.g. "load.result"')


class OutputInfo(BaseModel):
    name: str
    type: str


class SolidInfo(BaseModel):
    name: str = Field(
        description="the solid's name in the pipeline (composite.inner inside composites)"
    )
    solid: str = Field(description="the name of its definition")
    description: str | None
    version: str | None
    inputs: list[InputInfo]
    outputs: list[OutputInfo]
    config_schema: dict[str, Any] | None
    required_resources: list[str]
    tags: dict[str, Any]
    retry: str | None
    composite: str | None


class ModeInfo(BaseModel):
    name: str
    resources: list[str]
    config_schema: dict[str, Any] = Field(description="JSON Schema of the run_config")


class CompositeInfo(BaseModel):
    name: str
    description: str | None


class RunInfo(BaseModel):
    run_id: str
    pipeline_name: str
    status: str = Field(
        description="QUEUED, STARTING, STARTED, CANCELING, CANCELED, SUCCESS or FAILURE"
    )
    create_time: float = Field(description="seconds since the epoch when it was requested")
    start_time: float | None = Field(description="when its driver started it")
    end_time: float | None
    tags: dict[str, str]
    priority: int = Field(description="queue priority: higher starts first")
    mode: str
    target: str | None
    run_config: dict[str, Any]
    parent_run_id: str | None
    root_run_id: str | None
    steps: list[str] = Field(description="the keys of the steps the run executes")
    executor: str | None
    memoize: bool


class PipelineInfo(BaseModel):
    name: str
    target: str
    description: str | None
    tags: dict[str, str]
    modes: list[ModeInfo]
    solids: list[SolidInfo]
    composites: list[CompositeInfo]


class PipelineSummary(BaseModel):
    name: str
    target: str
    description: str | None
    solid_count: int
    last_run: RunInfo | None


class LocationInfo(BaseModel):
    """A workspace target: the pipelines it defines, or why it failed to load."""

    target: str
    error: str | None
    pipelines: list[str]


class PipelineList(BaseModel):
    pipelines: list[PipelineSummary]
    locations: list[LocationInfo]
    read_only: bool


class RunConfigRequest(_Request):
    run_config: dict[str, Any] = {}
    mode: str | None = None
    selection: str | None = Field(None, description="e.g. '*load+,report'")


class Validation(BaseModel):
    valid: bool
    errors: list[ErrorDetail]
    steps: list[str] = Field(description="the steps the run would execute, when valid")


class SelectionResult(BaseModel):
    steps: list[str]


class RerunCause(BaseModel):
    kind: str = Field(
        description='"no_earlier_run", "code_changed", "config_changed", '
        '"data_version_changed", "upstream_changed", "output_missing" or "output_corrupt"'
    )
    message: str


class MemoStep(BaseModel):
    step: str
    memoized: bool
    reason: str = Field(description='"memoized", or "runs: " and why')
    causes: list[RerunCause]
    memo_key: str
    output_keys: dict[str, str]
    source_run_id: str | None = Field(
        description="the run that stored the outputs, or whose lineage the step is compared with"
    )


class MemoReport(BaseModel):
    steps: list[MemoStep]
    warnings: list[str] = Field(description="what keeps the status from being exact")


class LaunchRequest(RunConfigRequest):
    pipeline: str
    tags: dict[str, str] = {}
    executor: str | None = Field(None, description="in_process or ray (default: run_config's)")
    memoize: bool | None = None


class ReexecuteRequest(_Request):
    selection: str | None = Field(None, description="the steps to run again; all when omitted")
    from_failure: bool = False
    tags: dict[str, str] = {}


class DeleteRequest(_Request):
    run_ids: list[str]


class Deleted(BaseModel):
    deleted: list[str]


class RunPage(BaseModel):
    runs: list[RunInfo]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class EventInfo(BaseModel):
    seq: int
    timestamp: float
    type: str
    step: str | None
    description: str = Field(description="payload.message, or a one-line summary of the payload")
    payload: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventInfo]
    cursor: int = Field(description="the last seq returned (or `after`): pass as `after` next")
    run_ended: bool = Field(description="the run ended and no event is left after this page")


class StoredOutputInfo(BaseModel):
    key: str
    step: str
    output: str
    serializer: str
    python_type: str
    rows: int | None
    bytes: int
    run_id: str
    created: float


class StoreListing(BaseModel):
    outputs: list[StoredOutputInfo]
    total_bytes: int


class TickInfo(BaseModel):
    """One time a schedule was due."""

    key: str = Field(description="the tick's idempotency key, '<schedule>@<UTC time>'")
    schedule: str
    tick_time: float = Field(description="when it was due, seconds since the epoch")
    status: str = Field(description="STARTED, SUCCESS (its run was queued), SKIPPED or FAILURE")
    run_id: str | None
    error: str | None = Field(description="why it failed or was skipped")
    create_time: float = Field(description="when it was evaluated")


class ScheduleInfo(BaseModel):
    name: str
    pipeline: str
    cron: str
    timezone: str
    catchup: str = Field(description='"none", "latest" or "all"')
    description: str | None
    status: str = Field(description="RUNNING or STOPPED")
    next_ticks: list[float] = Field(description="when it is next due, in order")
    last_tick: TickInfo | None


class ScheduleProblem(BaseModel):
    """A file or module whose schedules could not be loaded."""

    location: str
    message: str


class ScheduleList(BaseModel):
    schedules: list[ScheduleInfo]
    problems: list[ScheduleProblem]


class TickPage(BaseModel):
    ticks: list[TickInfo] = Field(description="latest first")
    next_cursor: float | None = Field(description="pass as `before` for the next page")


class TickPreviewInfo(BaseModel):
    tick_time: float
    local_time: str = Field(description="the tick in the schedule's timezone, ISO 8601")
    run_config: dict[str, Any] | None = Field(
        description="the config its run would get (None: the tick would be skipped)"
    )
    problems: list[str] = Field(description="why the run would not be queued, if it would not")


class SchedulePreview(BaseModel):
    ticks: list[TickPreviewInfo]


class QueuedRuns(BaseModel):
    runs: list[RunInfo] = Field(description="QUEUED runs in the order the daemon starts them")


class SweepRowInfo(BaseModel):
    run_id: str
    point: dict[str, Any] = Field(description="the config paths the point sets, and their values")
    status: str
    duration: float | None = Field(description="seconds from its start to its end")
    metrics: dict[str, Any] = Field(description='each metric asked for ("step.name") and its value')
    steps_computed: int
    steps_served: int = Field(description="steps whose outputs it took from the store")


class SweepInfo(BaseModel):
    sweep_id: str
    ended: bool = Field(description="all of its runs ended")
    rows: list[SweepRowInfo] = Field(description="its runs, oldest first")


class SweepOverviewInfo(BaseModel):
    sweep_id: str
    pipeline: str
    paths: list[str] = Field(description="the config paths it sweeps")
    statuses: dict[str, int] = Field(description="how many of its runs have each status")
    create_time: float = Field(description="when its first run was queued")
    ended: bool


class SweepList(BaseModel):
    sweeps: list[SweepOverviewInfo] = Field(description="newest first")
