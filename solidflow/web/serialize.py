"""Engine records as API values."""

from __future__ import annotations

from solidflow.engine import EventRecord, RunRecord, describe_event, priority_of
from solidflow.web.api_models import RunInfo


def run_info(run: RunRecord) -> RunInfo:
    return RunInfo(
        run_id=run.run_id,
        pipeline_name=run.pipeline_name,
        status=run.status.value,
        create_time=run.create_time,
        start_time=run.start_time,
        end_time=run.end_time,
        tags=dict(run.tags),
        priority=priority_of(run.tags),
        mode=run.mode,
        target=run.target,
        run_config=dict(run.run_config),
        parent_run_id=run.parent_run_id,
        root_run_id=run.root_run_id,
        steps=list(run.step_keys),
        executor=run.executor,
        memoize=run.memoize,
    )


def event_dict(event: EventRecord) -> dict[str, object]:
    """An event as a JSON-ready dict (the shape of EventInfo, built without validation: a
    run page reads thousands)."""
    return {
        "seq": event.seq,
        "timestamp": event.timestamp,
        "type": event.type.value,
        "step": event.step,
        "description": describe_event(event),
        "payload": event.payload,
    }
