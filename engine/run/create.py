"""create_run: validate a run request and record it QUEUED, with its plan; nothing runs yet."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import to_plain
from solidflow.engine.executors import Executor
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.tags import PRIORITY_TAG
from solidflow.engine.run.prepare import (
    PreparedRun,
    Selection,
    pipeline_target,
    prepare_run,
    require_pipeline,
)
from solidflow.errors import ConfigError, DefinitionError, RunRequestError, SelectionError


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOrigin:
    """Where a re-execution comes from: its parent run and that run's stored outputs."""

    parent_run_id: str
    root_run_id: str
    external: Mapping[tuple[str, str], str]


_PREPARED_KEPT = 16
_PREPARED: OrderedDict[str, tuple[PipelineDefinition, PreparedRun]] = OrderedDict()
"""The prepared plans of the runs this process created last, by run id: a run launched in
this process with the same pipeline object is not prepared twice."""


def prepared_plan(run_id: str, pipeline: PipelineDefinition) -> PreparedRun | None:
    """The plan `create_run` prepared for `run_id` from `pipeline` in this process, if it
    still has it (it is handed out once)."""
    kept = _PREPARED.pop(run_id, None)
    return kept[1] if kept is not None and kept[0] is pipeline else None


def _selection(solid_selection: Selection) -> tuple[str, ...] | None:
    if solid_selection is None:
        return None
    return (solid_selection,) if isinstance(solid_selection, str) else tuple(solid_selection)


def create_run(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, object] | None = None,
    *,
    mode: str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    executor: str | Executor | None = None,
    instance: Instance | None = None,
    tags: Mapping[str, str] | None = None,
    memoize: bool | None = None,
    target: str | None = None,
    origin: RunOrigin | None = None,
    priority: int | None = None,
) -> RunRecord:
    """Validate a run of `pipeline` and record it as QUEUED; nothing runs until `launch_run`
    (or the daemon, which starts queued runs by `priority`, higher first, then oldest first).

    The record holds the resolved plan (its step keys and the selection they come from), the
    run_config, mode, executor, memoize setting, tags, and the parent and root run of a
    re-execution (`origin`). `target` says how to load the pipeline again (derived from its
    module when omitted); a run launched in another process needs it. `priority` is kept as
    the tag "solidflow/priority".

    Raises:
        ConfigError, SelectionError, DefinitionError: the request is invalid; the run is
            recorded as failed (with a RUN_FAILURE event), and the error's `run_id` names it.
    """
    record, _ = request_run(
        pipeline,
        run_config,
        mode=mode,
        solid_selection=solid_selection,
        executor=executor,
        instance=instance if instance is not None else Instance(),
        tags=tags,
        memoize=memoize,
        target=target,
        origin=origin,
        priority=priority,
    )
    return record


def request_run(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, object] | None,
    *,
    mode: str | None,
    solid_selection: Selection,
    executor: str | Executor | None,
    instance: Instance,
    tags: Mapping[str, str] | None,
    memoize: bool | None,
    target: str | None,
    origin: RunOrigin | None,
    priority: int | None = None,
    run_id: str | None = None,
) -> tuple[RunRecord, PreparedRun]:
    """`create_run`, also returning the prepared plan (kept for `prepared_plan` as well).
    `run_id` is the new run's id (default: a random one).

    Raises:
        DuplicateRecordError: a run with the id `run_id` is already recorded.
    """
    require_pipeline(pipeline)
    run_tags = {str(key): str(value) for key, value in {**pipeline.tags, **(tags or {})}.items()}
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise RunRequestError(f"a run's priority must be a whole number, not {priority!r}")
        run_tags[PRIORITY_TAG] = str(priority)
    record = RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        pipeline_name=pipeline.name,
        status=RunStatus.QUEUED,
        create_time=time.time(),
        tags=run_tags,
        mode=mode or (default.name if (default := pipeline.default_mode) else ""),
        target=target or pipeline_target(pipeline),
        run_config=to_plain(dict(run_config)) if isinstance(run_config, Mapping) else {},
        parent_run_id=origin.parent_run_id if origin else None,
        root_run_id=origin.root_run_id if origin else None,
        solid_selection=_selection(solid_selection),
        memoize=instance.config.memoize if memoize is None else memoize,
    )
    try:
        prepared = prepare_run(
            pipeline,
            run_config,
            mode,
            solid_selection,
            executor,
            instance,
            origin.external if origin else None,
        )
    except (ConfigError, SelectionError, DefinitionError) as error:
        instance.add_run(record)
        instance.end_run(record, RunStatus.FAILURE, str(error))
        error.run_id = record.run_id
        raise
    plan = prepared.plan
    record = dataclasses.replace(
        record,
        mode=prepared.mode.name,
        step_keys=tuple(plan.steps),
        executor=prepared.executor_name,
        external_outputs=tuple(
            (step, output, key) for (step, output), key in plan.external.items()
        ),
    )
    instance.add_run(record)
    _PREPARED[record.run_id] = (pipeline, prepared)
    while len(_PREPARED) > _PREPARED_KEPT:
        _PREPARED.popitem(last=False)
    return record, prepared
