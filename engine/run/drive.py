"""Drive a launched run in this process: start it, plan keys and memoized steps, run the rest
on its executor, and record its end (success, failure or cancel)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.executors import Executor, RunSpec
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import (
    END_EVENTS,
    RunRecord,
    RunStatus,
    current_process_token,
)
from solidflow.engine.instance.storage import RunChanges
from solidflow.engine.memo.claims import SharedSteps
from solidflow.engine.memo.leases import Leases
from solidflow.engine.memo.memoization import (
    MemoKeys,
    Warn,
    all_output_keys,
    assess_outputs,
    memoized_payloads,
    memoized_steps,
    plan_keys,
    steps_without_outputs,
)
from solidflow.engine.memo.store_leases import leases_of
from solidflow.engine.run.create import prepared_plan
from solidflow.engine.run.monitor import RunMonitor
from solidflow.engine.run.prepare import (
    PreparedRun,
    prepare_run,
    store_durability,
    store_location,
)
from solidflow.engine.run.results import PipelineRunResult
from solidflow.engine.run.scheduler import Scheduler, SchedulerState, StepStatus
from solidflow.engine.store import IntermediateStore, is_local_root
from solidflow.errors import (
    ConfigError,
    DefinitionError,
    EventLogError,
    ExecutorError,
    RunRequestError,
    SelectionError,
    StepFailure,
)


class _Run:
    """The bookkeeping of one run: its record, its events, its end."""

    def __init__(self, instance: Instance, sink: EventSink, record: RunRecord) -> None:
        self.instance = instance
        self.sink = sink
        self.record = record
        self.run_id = record.run_id
        self.leases = Leases(instance)
        """Where the run's lease is: in the store when hosts share it (set once it is known)."""

    def end(self, status: RunStatus, message: str, **payload: Any) -> None:
        """Record the run's end event and status. When the event log fails, as much as it
        takes is recorded; a run left unended is found dead later (see Instance)."""
        self.sink.emit(END_EVENTS[status], None, {"message": message, **payload})
        self.sink.close()
        with contextlib.suppress(EventLogError):
            self.instance.storage.update_run(self.run_id, status=status, end_time=time.time())
        self.leases.release(self.run_id)


def _outcome(
    state: SchedulerState,
    teardown_failures: list[str],
    monitor: RunMonitor,
    events: list[EventRecord],
) -> tuple[RunStatus, str, dict[str, Any]]:
    """The run's status, the message of its end event and the rest of that event's payload;
    `events` are the run's events (a stopped run lists the steps that started)."""
    failed = state.keys_with(StepStatus.FAILED)
    skipped = state.keys_with(StepStatus.SKIPPED)
    total = len(state.status)
    payload: dict[str, Any] = {"failed_steps": failed}
    if monitor.canceled:
        completed = state.keys_with(StepStatus.SUCCEEDED) + state.keys_with(StepStatus.MEMOIZED)
        started = {event.step for event in events if event.type is EventType.STEP_START}
        stopped = state.keys_with(StepStatus.CANCELED)
        reason = monitor.failure_reason or monitor.cancel_reason
        payload.update(
            reason=reason,
            completed_steps=completed,
            interrupted_steps=[key for key in stopped if key in started],
            not_started_steps=[
                key
                for key, status in state.status.items()
                if status is StepStatus.PENDING or (key in stopped and key not in started)
            ],
        )
        if monitor.failure_reason is not None:
            message = f"run stopped: {reason} ({len(completed)} of {total} steps completed)"
            return RunStatus.FAILURE, message, payload
        message = f"run canceled ({reason}): {len(completed)} of {total} steps completed"
        return RunStatus.CANCELED, message, payload
    if state.run_failure is not None:
        return RunStatus.FAILURE, state.run_failure, payload
    if failed:
        message = f"{len(failed)} of {total} steps failed: {', '.join(failed)}"
        if skipped:
            message += f"; {len(skipped)} skipped"
        return RunStatus.FAILURE, message, payload
    if teardown_failures:
        return RunStatus.FAILURE, "; ".join(teardown_failures), payload
    memoized = len(state.keys_with(StepStatus.MEMOIZED))
    message = f"{total - memoized - len(skipped)} steps succeeded"
    if memoized:
        message += f", {memoized} memoized"
    if skipped:  # below optional outputs that were not produced
        message += f", {len(skipped)} skipped"
    return RunStatus.SUCCESS, message, payload


def drive_run(
    run: RunRecord,
    pipeline: PipelineDefinition,
    instance: Instance,
    *,
    executor: Executor | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
    raise_on_error: bool = False,
) -> PipelineRunResult:
    """Run `run` (launched: STARTING) to its end in this process, with `pipeline` as its
    definition and `executor` (default: a new one of the class the run names).

    Raises ConfigError, SelectionError or DefinitionError (after recording the run as failed)
    when the run is no longer valid, StepFailure when a step fails and `raise_on_error` is
    set, and RunRequestError when the run is not STARTING. A run canceled by SIGINT or
    SIGTERM ends as CANCELED, then the signal takes the effect it had before the run
    (KeyboardInterrupt for SIGINT by default).
    """
    now = time.time()
    started: RunChanges = {
        "status": RunStatus.STARTED,
        "start_time": now,
        "heartbeat": now,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "process_start": current_process_token(),
    }
    if not instance.storage.update_run(run.run_id, expected=[RunStatus.STARTING], **started):
        return _not_started(run, instance)
    started_run = dataclasses.replace(run, **started)
    with RunMonitor(instance, run.run_id) as monitor:
        sink = EventSink(
            run.run_id,
            instance.storage,
            listeners=[on_event] if on_event else (),
            on_failure=lambda error: monitor.fail(str(error)),
        )
        bookkeeping = _Run(instance, sink, started_run)
        result = _prepared_and_driven(
            bookkeeping, pipeline, monitor, executor=executor, raise_on_error=raise_on_error
        )
    monitor.deliver_signal()
    return result


def _not_started(run: RunRecord, instance: Instance) -> PipelineRunResult:
    """The result of a launched run that was canceled before its driver started it."""
    current = instance.get_run(run.run_id)
    if current is not None and current.status is RunStatus.CANCELING:
        ended = instance.end_run(
            current, RunStatus.CANCELED, "run canceled before it started", expected=[current.status]
        )
        if ended is not None:
            return PipelineRunResult(
                run_id=run.run_id,
                pipeline_name=run.pipeline_name,
                status=RunStatus.CANCELED,
                events=instance.events(run.run_id),
                state=SchedulerState(status=dict.fromkeys(run.step_keys, StepStatus.PENDING)),
                load=lambda handle: handle,
            )
    status = current.status.value if current is not None else "unknown"
    raise RunRequestError(f"run {run.run_id} is {status}, not STARTING: it cannot be driven")


def _prepared_and_driven(
    run: _Run,
    pipeline: PipelineDefinition,
    monitor: RunMonitor,
    *,
    executor: Executor | None,
    raise_on_error: bool,
) -> PipelineRunResult:
    record = run.record
    prepared = prepared_plan(record.run_id, pipeline)
    if prepared is None:
        external = {(step, output): key for step, output, key in record.external_outputs}
        try:
            prepared = prepare_run(
                pipeline,
                record.run_config,
                record.mode,
                list(record.step_keys),
                executor if executor is not None else record.executor,
                run.instance,
                external,
            )
        except (ConfigError, SelectionError, DefinitionError) as error:
            error.run_id = record.run_id
            run.end(RunStatus.FAILURE, str(error))
            raise
    return _drive(run, pipeline, prepared, monitor, executor or prepared.executor(), raise_on_error)


def _outputs_before_the_run(
    keys: Mapping[str, MemoKeys], store: IntermediateStore, memoize: bool, warn: Warn
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """With `memoize`, the STEP_MEMOIZED payloads of the steps that need not run; and the
    steps none of whose outputs are stored, whose puts need not look first (known only of a
    store whose writes are guarded, where looking up every key is cheap)."""
    if memoize:
        found = assess_outputs(keys, store)
        payloads = memoized_payloads(keys, memoized_steps(keys, found, warn), found)
        stored = {key for key, assessment in found.items() if assessment.present}
    else:
        payloads = {}
        stored = store.committed(all_output_keys(keys)) if store.writes_guarded else set()
    missing = steps_without_outputs(keys, stored) if store.writes_guarded else set()
    return payloads, missing


def _drive(
    run: _Run,
    pipeline: PipelineDefinition,
    prepared: PreparedRun,
    monitor: RunMonitor,
    executor: Executor,
    raise_on_error: bool,
) -> PipelineRunResult:
    plan = prepared.plan
    memoize = run.record.memoize
    run.sink.emit(
        EventType.RUN_START,
        None,
        {
            "message": f"run of pipeline '{pipeline.name}' started: {len(plan.steps)} steps",
            "pipeline": pipeline.name,
            "mode": prepared.mode.name,
            "executor": prepared.executor_name,
            "steps": list(plan.steps),
            "tags": dict(run.record.tags),
            "memoize": memoize,
            "external": [[step, output, key] for (step, output), key in plan.external.items()],
        },
    )
    try:
        state, teardown_failures = _execute(run, prepared, executor, memoize, monitor)
    except KeyboardInterrupt:
        if monitor.failure_reason is not None:
            run.end(RunStatus.FAILURE, f"run stopped: {monitor.failure_reason}")
        else:
            run.end(RunStatus.CANCELED, f"run canceled ({monitor.cancel_reason or 'interrupted'})")
        raise
    except BaseException as error:
        run.end(RunStatus.FAILURE, f"engine error: {type(error).__name__}: {error}")
        raise
    status, message, payload = _outcome(state, teardown_failures, monitor, run.sink.events)
    run.end(status, message, **payload)
    result = PipelineRunResult(
        run_id=run.run_id,
        pipeline_name=pipeline.name,
        status=status,
        events=run.sink.events,
        state=state,
        load=executor.load,
        composite_outputs=pipeline.composite_outputs,
    )
    if raise_on_error and status is RunStatus.FAILURE:
        _raise_failure(run.run_id, state, message)
    return result


def _execute(
    run: _Run, prepared: PreparedRun, executor: Executor, memoize: bool, monitor: RunMonitor
) -> tuple[SchedulerState, list[str]]:
    """Plan keys, find memoized steps and run the rest; the executor is always finalized."""
    plan = prepared.plan

    def warn(step: str | None, message: str) -> None:
        run.sink.emit(EventType.LOG, step, {"level": "WARNING", "message": message})

    location = store_location(prepared.config, run.instance)
    keys = plan_keys(plan, warn)
    payloads: dict[str, dict[str, Any]] = {}
    missing: set[str] = set()
    if not is_local_root(location.root):
        remote = location.open()
        run.leases = leases_of(run.instance, remote)
        remote.close()
    with run.leases.taking(run.run_id, [*all_output_keys(keys), *plan.external.values()]):
        if memoize or is_local_root(location.root):  # a remote store is opened only to memoize
            store = location.open(lambda text: warn(None, text))
            try:
                payloads, missing = _outputs_before_the_run(keys, store, memoize, warn)
            finally:
                store.close()
    spec = RunSpec(
        run_id=run.run_id,
        pipeline_name=plan.pipeline_name,
        resources=plan.resources,
        config=prepared.executor_config(),
        store_root=location.root,
        store_options=location.options,
        store_backend=location.backend,
        durability=store_durability(prepared.config, run.instance),
    )
    shared = None
    if memoize and not monitor.canceled:
        shared = SharedSteps(
            run.instance.storage,
            run.run_id,
            keys,
            lambda: location.open(lambda text: warn(None, text)),
            run.instance.config.run_monitoring.heartbeat_timeout,
        )
        shared.claim(key for key in keys if key not in payloads)
    scheduler = Scheduler(
        plan,
        executor,
        run.sink,
        run.run_id,
        keys,
        payloads,
        missing,
        replace_outputs=not memoize,
        canceled=lambda: monitor.canceled,
        shared=shared,
    )
    try:
        if monitor.canceled:  # before any step was submitted
            return scheduler.state, []
        executor.init(spec, run.sink)
        monitor.reclaim_signals()
        problems = []
        try:
            state = scheduler.run()
        except ExecutorError as error:  # the steps not ended never will
            state = scheduler.state
            problems.append(str(error))
        finally:
            problems.extend(executor.finalize())
    finally:
        if shared is not None:  # once the outputs of the run are stored
            shared.close()
    return state, problems


def _raise_failure(run_id: str, state: SchedulerState, message: str) -> None:
    ended = [key for key, result in state.results.items() if result.resource_failure]
    for key in state.keys_with(StepStatus.FAILED) + ended:
        step_result = state.results[key]
        raise StepFailure(
            step_result.message or message, step=key, run_id=run_id, original=step_result.exception
        ) from step_result.exception
    raise StepFailure(message, step=None, run_id=run_id, original=None)
