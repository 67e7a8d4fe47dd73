"""The summary of a sweep: per point, its run's status and duration, the metrics asked for,
and how many steps the run computed and how many it was served from the store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.tags import SWEEP_POINT_TAG, SWEEP_TAG
from solidflow.engine.memo.inventory import instance_store

_SMALL = 64 * 1024
"""Outputs read as metrics are loaded only up to this size (numbers, strings)."""
_METADATA_EVENTS = (EventType.MATERIALIZATION, EventType.EXPECTATION)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRow:
    """One run of a sweep.

    Args:
        run_id: the run.
        point: the config paths the point sets and their values.
        status: the run's status.
        duration: seconds from its start to its end (None until it ended).
        metrics: each metric asked for ("step.name") and its value (None if the run has none).
        steps_computed: the steps the run ran.
        steps_served: the steps whose outputs it took from the store (memoized, or computed
            meanwhile by another run of the sweep).
    """

    run_id: str
    point: dict[str, Any]
    status: RunStatus
    duration: float | None
    metrics: dict[str, Any]
    steps_computed: int
    steps_served: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSummary:
    """The runs of a sweep, oldest first, and whether all of them ended."""

    sweep_id: str
    rows: list[SweepRow]

    @property
    def ended(self) -> bool:
        return all(row.status.ended for row in self.rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepOverview:
    """A sweep in a list of sweeps.

    Args:
        sweep_id: the sweep.
        pipeline: the pipeline its runs run.
        paths: the config paths it sweeps.
        statuses: how many of its runs have each status.
        create_time: when its first run was queued.
    """

    sweep_id: str
    pipeline: str
    paths: tuple[str, ...]
    statuses: dict[str, int]
    create_time: float

    @property
    def ended(self) -> bool:
        return all(RunStatus(status).ended for status in self.statuses)


def list_sweeps(instance: Instance) -> list[SweepOverview]:
    """The sweeps whose runs the instance keeps, newest first."""
    grouped: dict[str, list[RunRecord]] = {}
    for run in instance.runs():
        if SWEEP_TAG in run.tags:
            grouped.setdefault(run.tags[SWEEP_TAG], []).append(run)
    overviews = []
    for sweep_id, runs in grouped.items():
        first = min(runs, key=lambda run: run.create_time)
        statuses: dict[str, int] = {}
        for run in runs:
            statuses[run.status.value] = statuses.get(run.status.value, 0) + 1
        overviews.append(
            SweepOverview(
                sweep_id=sweep_id,
                pipeline=first.pipeline_name,
                paths=tuple(json.loads(first.tags.get(SWEEP_POINT_TAG, "{}"))),
                statuses=statuses,
                create_time=first.create_time,
            )
        )
    return sorted(overviews, key=lambda overview: overview.create_time, reverse=True)


def sweep_runs(instance: Instance, sweep_id: str) -> list[RunRecord]:
    """The runs of the sweep `sweep_id`, oldest first."""
    runs = [run for run in instance.runs() if run.tags.get(SWEEP_TAG) == sweep_id]
    return sorted(runs, key=lambda run: run.create_time)


def sweep_summary(instance: Instance, sweep_id: str, metrics: Sequence[str] = ()) -> SweepSummary:
    """The summary of the sweep `sweep_id`. A metric "step.name" is the metadata entry `name`
    of a materialization or expectation of step `step`, or of its output's metadata, else the
    value of its output `name` when that is a small stored value; for a step the run was
    served, it is read from the run that computed it."""
    rows = []
    for run in sweep_runs(instance, sweep_id):
        events = instance.events(run.run_id)
        computed = sum(1 for event in events if event.type is EventType.STEP_SUCCESS)
        served = [event for event in events if event.type is EventType.STEP_MEMOIZED]
        duration = (
            run.end_time - run.start_time
            if run.end_time is not None and run.start_time is not None
            else None
        )
        rows.append(
            SweepRow(
                run_id=run.run_id,
                point=json.loads(run.tags.get(SWEEP_POINT_TAG, "{}")),
                status=run.status,
                duration=duration,
                metrics={name: _metric(instance, events, name) for name in metrics},
                steps_computed=computed,
                steps_served=len(served),
            )
        )
    return SweepSummary(sweep_id=sweep_id, rows=rows)


def _metric(instance: Instance, events: list[EventRecord], metric: str) -> Any:
    step, _, name = metric.rpartition(".")
    if not step:
        return None
    for event in events:
        if event.step != step:
            continue
        if event.type is EventType.STEP_MEMOIZED and event.payload.get("source_run"):
            source = instance.events(event.payload["source_run"])
            found = _from_metadata(source, step, name)
            if found is not None:
                return found
            return _output_value(instance, event.payload.get("output_keys", {}).get(name))
    found = _from_metadata(events, step, name)
    if found is not None:
        return found
    for event in events:
        payload = event.payload if event.type is EventType.STEP_OUTPUT else {}
        if event.step == step and payload.get("output") == name and payload.get("stored"):
            return _output_value(instance, payload.get("key"))
    return None


def _from_metadata(events: list[EventRecord], step: str, name: str) -> Any:
    for event in reversed(events):
        if event.step != step:
            continue
        if event.type in _METADATA_EVENTS and name in event.payload.get("metadata", {}):
            return event.payload["metadata"][name]
        if event.type is EventType.STEP_OUTPUT and name in event.payload.get("output_metadata", {}):
            return event.payload["output_metadata"][name]
    return None


def _output_value(instance: Instance, key: str | None) -> Any:
    if key is None:
        return None
    store = instance_store(instance)
    try:
        record = store.info(key)
        if record is None or record.bytes > _SMALL or record.serializer == "arrow":
            return None
        value = store.get(key)
    except Exception:  # gone or damaged meanwhile: no value to show
        return None
    finally:
        store.close()
    return value if isinstance(value, (int, float, str, bool)) else None
