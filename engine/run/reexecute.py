"""Re-execute a subset of an earlier run, reading the other steps' outputs from the store."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord
from solidflow.engine.memo.memoization import OutputAddress, stored_outputs
from solidflow.engine.plan.selection import select_steps
from solidflow.engine.plan.steps import addresses_read
from solidflow.engine.run.create import RunOrigin, create_run
from solidflow.engine.run.execute import run_pipeline
from solidflow.engine.run.prepare import pipeline_target, require_pipeline
from solidflow.engine.run.results import PipelineRunResult
from solidflow.engine.run.targets import load_pipeline
from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.errors import ReexecutionError


def _steps_to_finish(
    parent: RunRecord, events: Sequence[EventRecord], pipeline: PipelineDefinition
) -> frozenset[str]:
    """The steps of the parent's plan that did not succeed (failed, skipped, canceled, started
    and never ended, or never started), and their descendants in that plan. Steps skipped
    below an optional output that was not produced stay skipped: that is how the run was
    meant to go."""
    if not parent.status.ended:
        raise ReexecutionError(
            f"run {parent.run_id} has not ended ({parent.status.value}): wait for it, or "
            f"cancel it with `solidflow cancel {parent.run_id}`"
        )
    plan = [step for step in parent.step_keys or pipeline.nodes if step in pipeline.nodes]
    done = {
        event.step
        for event in events
        if event.type in (EventType.STEP_SUCCESS, EventType.STEP_MEMOIZED)
        or (event.type is EventType.STEP_SKIPPED and event.payload.get("missing_inputs"))
    }
    unfinished = [step for step in plan if step not in done]
    if not unfinished:
        raise ReexecutionError(
            f"every step of run {parent.run_id} succeeded: nothing to re-execute from failure"
        )
    descendants = select_steps([f"{step}*" for step in unfinished], pipeline.upstream())
    return descendants & frozenset(plan)


def _needed_outputs(
    pipeline: PipelineDefinition, selected: Collection[str]
) -> dict[OutputAddress, str]:
    """Outputs of unselected steps that selected steps read, with a reader for messages."""
    needed: dict[OutputAddress, str] = {}
    for name in sorted(selected):
        for step, output in addresses_read(pipeline.nodes[name].inputs):
            if step not in selected:
                needed.setdefault((step, output), name)
    return needed


def _store_for(run_config: Mapping[str, Any], instance: Instance) -> IntermediateStore:
    storage = run_config.get("storage") or {}
    if "root" not in storage:
        storage = instance.config.storage.model_dump(include={"root", "storage_options", "backend"})
    return IntermediateStore(
        storage["root"], storage.get("storage_options") or {}, backend=storage.get("backend")
    )


def _ancestry_outputs(
    instance: Instance, parent: RunRecord, events: Sequence[EventRecord]
) -> tuple[dict[OutputAddress, str], list[str]]:
    """The store keys of the outputs that the parent run or its ancestors (its parent, and so
    on up to the root run) produced or read, the nearest run's first; and the ancestors' ids."""
    outputs = stored_outputs(events)
    ancestors: list[str] = []
    run_id = parent.parent_run_id
    while run_id is not None and run_id != parent.run_id and run_id not in ancestors:
        ancestors.append(run_id)
        for address, key in stored_outputs(instance.events(run_id)).items():
            outputs.setdefault(address, key)
        ancestor = instance.storage.get_run(run_id)
        run_id = None if ancestor is None else ancestor.parent_run_id
    return outputs, ancestors


def _unavailable(
    needed: Mapping[OutputAddress, str],
    produced: Mapping[OutputAddress, str],
    store: IntermediateStore,
) -> dict[OutputAddress, tuple[OutputStatus | None, str | None]]:
    """The needed outputs that no run of the ancestry stored (status None), or that the store
    does not hold intact, with the store's status and reason."""
    statuses = store.check([produced[address] for address in needed if address in produced])
    unavailable: dict[OutputAddress, tuple[OutputStatus | None, str | None]] = {}
    for address in needed:
        if address not in produced:
            unavailable[address] = (None, None)
        elif statuses[produced[address]][0] is not OutputStatus.PRESENT:
            unavailable[address] = statuses[produced[address]]
    return unavailable


def _external_inputs(
    instance: Instance,
    parent: RunRecord,
    events: Sequence[EventRecord],
    pipeline: PipelineDefinition,
    selected: frozenset[str],
    store: IntermediateStore,
    *,
    recompute_unavailable: bool,
) -> tuple[frozenset[str], dict[OutputAddress, str]]:
    """The selection and, by (step, output), the stored outputs of unselected steps that it
    reads, found through the parent run's ancestry. With `recompute_unavailable`, steps whose
    outputs are not stored (or not intact) join the selection; otherwise they are an error."""
    produced, ancestors = _ancestry_outputs(instance, parent, events)
    while True:
        needed = _needed_outputs(pipeline, selected)
        unavailable = _unavailable(needed, produced, store)
        if not unavailable or not recompute_unavailable:
            break
        selected |= {step for step, _ in unavailable}
    problems = []
    searched = f"run {parent.run_id}"
    if ancestors:
        searched += f" or its ancestors ({', '.join(ancestors)})"
    for (step, output), (status, reason) in unavailable.items():
        where = f"output '{output}' of step '{step}' (read by '{needed[(step, output)]}')"
        if status is None:
            problems.append(f"{where} was not stored by {searched}")
        else:
            detail = f": {reason}" if reason else ""
            problems.append(
                f"{where} from {searched} is {status.value.lower()} in the store{detail}"
            )
    if problems:
        raise ReexecutionError(
            "cannot re-execute: "
            + "; ".join(problems)
            + ". Select those steps too to recompute them."
        )
    return selected, {address: produced[address] for address in needed}


def _pipeline_of(
    parent: RunRecord, pipeline: PipelineDefinition | None
) -> tuple[PipelineDefinition, str | None]:
    """The pipeline to run again and its target: the one given, else the one loaded again
    from the target the parent recorded."""
    if pipeline is not None:
        require_pipeline(pipeline)
        if pipeline.name != parent.pipeline_name:
            raise ReexecutionError(
                f"run {parent.run_id} is a run of pipeline '{parent.pipeline_name}', "
                f"not of '{pipeline.name}'"
            )
        return pipeline, pipeline_target(pipeline) or parent.target
    if parent.target is None:
        raise ReexecutionError(
            f"run {parent.run_id} did not record where its pipeline is defined, so it cannot be "
            "loaded again; pass the pipeline: reexecute_pipeline(pipeline, parent_run_id=...)"
        )
    return load_pipeline(parent.target)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reexecution:
    """What a re-execution runs: the pipeline (loaded again), its config, mode, selected
    steps and tags, and where it comes from (the parent run and its stored outputs)."""

    pipeline: PipelineDefinition
    target: str | None
    run_config: dict[str, Any]
    mode: str
    selection: list[str]
    tags: dict[str, str]
    origin: RunOrigin


def plan_reexecution(
    parent_run_id: str | None,
    solid_selection: str | Sequence[str] | None,
    from_failure: bool,
    run_config: Mapping[str, Any] | None,
    instance: Instance,
    tags: Mapping[str, str] | None,
    pipeline: PipelineDefinition | None = None,
) -> Reexecution:
    """Check a re-execution of run `parent_run_id` and say what it runs.

    Raises ReexecutionError when the parent is unknown or an output the selected steps need
    is not stored (or is corrupt)."""
    if parent_run_id is None:
        raise ReexecutionError("give the id of the run to re-execute (parent_run_id)")
    parent = instance.get_run(parent_run_id)
    if parent is None:
        raise ReexecutionError(f"no run with id '{parent_run_id}' in {instance.home}")
    if from_failure and solid_selection is not None:
        raise ReexecutionError("give either a solid selection or from_failure, not both")
    pipeline, target = _pipeline_of(parent, pipeline)
    events = instance.events(parent.run_id)
    if from_failure:
        selected = _steps_to_finish(parent, events, pipeline)
    elif solid_selection is not None:
        selected = select_steps(solid_selection, pipeline.upstream(), pipeline_name=pipeline.name)
    else:
        selected = frozenset(pipeline.nodes)
    config = dict(parent.run_config if run_config is None else run_config)
    store = _store_for(config, instance)
    try:
        selected, external = _external_inputs(
            instance,
            parent,
            events,
            pipeline,
            selected,
            store,
            recompute_unavailable=from_failure,
        )
    finally:
        store.close()
    return Reexecution(
        pipeline=pipeline,
        target=target,
        run_config=config,
        mode=parent.mode,
        selection=sorted(selected),
        tags={**parent.tags, **(tags or {})},
        origin=RunOrigin(
            parent_run_id=parent.run_id,
            root_run_id=parent.root_run_id or parent.run_id,
            external=external,
        ),
    )


def create_reexecution(
    parent_run_id: str,
    solid_selection: str | Sequence[str] | None = None,
    *,
    from_failure: bool = False,
    run_config: Mapping[str, Any] | None = None,
    executor: str | None = None,
    instance: Instance | None = None,
    tags: Mapping[str, str] | None = None,
    memoize: bool | None = None,
) -> RunRecord:
    """`reexecute_pipeline`, recorded as a QUEUED run for `launch_run` instead of run here.

    Raises ReexecutionError as reexecute_pipeline does, and create_run's errors."""
    instance = instance if instance is not None else Instance()
    again = plan_reexecution(
        parent_run_id, solid_selection, from_failure, run_config, instance, tags
    )
    return create_run(
        again.pipeline,
        again.run_config,
        mode=again.mode,
        solid_selection=again.selection,
        executor=executor,
        instance=instance,
        tags=again.tags,
        memoize=memoize,
        target=again.target,
        origin=again.origin,
    )


def reexecute_pipeline(
    pipeline_or_run_id: PipelineDefinition | str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    *,
    from_failure: bool = False,
    run_config: Mapping[str, Any] | None = None,
    executor: str | None = None,
    instance: Instance | None = None,
    raise_on_error: bool = False,
    tags: Mapping[str, str] | None = None,
    memoize: bool | None = None,
    parent_run_id: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
) -> PipelineRunResult:
    """Run again the selected steps of a run: all of them by default; with `from_failure`,
    those of its plan that did not succeed and their descendants. Call it as
    `reexecute_pipeline(run_id, ...)`, or as in Dagster `reexecute_pipeline(pipeline,
    parent_run_id=run_id, ...)`. Inputs from unselected steps are the stored outputs of the
    parent run or of its ancestors. Without a pipeline, it is loaded again from the target the
    parent recorded, so code fixes apply; run_config defaults to the parent's.

    Raises ReexecutionError before anything runs when the parent is unknown or an output the
    selected steps need is not stored (or is corrupt).
    """
    pipeline_given = None
    if isinstance(pipeline_or_run_id, PipelineDefinition):
        pipeline_given = pipeline_or_run_id
    elif pipeline_or_run_id is not None:
        if parent_run_id is not None and parent_run_id != pipeline_or_run_id:
            raise ReexecutionError("give the parent run id once")
        parent_run_id = pipeline_or_run_id
    instance = instance if instance is not None else Instance()
    again = plan_reexecution(
        parent_run_id, solid_selection, from_failure, run_config, instance, tags, pipeline_given
    )
    return run_pipeline(
        again.pipeline,
        again.run_config,
        again.mode,
        again.selection,
        executor,
        instance,
        raise_on_error=raise_on_error,
        tags=again.tags,
        memoize=memoize,
        target=again.target,
        on_event=on_event,
        origin=again.origin,
    )
