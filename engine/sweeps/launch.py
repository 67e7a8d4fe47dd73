"""launch_sweep: queue one run of a pipeline per point of a grid of config values."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import to_plain
from solidflow.engine.executors import EXECUTORS, Executor
from solidflow.engine.instance import Instance
from solidflow.engine.instance.tags import SWEEP_POINT_TAG, SWEEP_TAG
from solidflow.engine.plan.run_config import validate_run_config
from solidflow.engine.run.create import create_run
from solidflow.engine.run.prepare import (
    pipeline_mode,
    pipeline_target,
    require_pipeline,
    selected_nodes,
)
from solidflow.engine.sweeps.points import Grid, Point, apply_point, describe_point, sweep_points
from solidflow.errors import ConfigError, RunRequestError


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRun:
    """One point of a sweep and the run queued for it."""

    point: Point
    run_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Sweep:
    """The runs a sweep queued, in the order of its points.

    Args:
        sweep_id: the sweep's id, also its runs' tag "solidflow/sweep".
        pipeline: the pipeline's name.
        runs: each point and its run.
    """

    sweep_id: str
    pipeline: str
    runs: tuple[SweepRun, ...]


def point_tag(point: Point) -> str:
    """The "solidflow/sweep_point" tag of a point: its paths and values as JSON."""
    return json.dumps(to_plain(point), sort_keys=False, default=str)


def launch_sweep(
    pipeline: PipelineDefinition,
    run_config: Mapping[str, Any] | None,
    grid: Grid,
    *,
    sample: int | None = None,
    seed: int | None = None,
    instance: Instance | None = None,
    mode: str | None = None,
    solid_selection: str | Sequence[str] | None = None,
    executor: str | Executor | None = None,
    tags: Mapping[str, str] | None = None,
    priority: int | None = None,
    memoize: bool = True,
    target: str | None = None,
) -> Sweep:
    """Queue one run of `pipeline` per point of `grid` (config path -> values; all
    combinations, or `sample` of them drawn with `seed`), each with `run_config` where the
    point's paths take its values. The runs are tagged "solidflow/sweep" (the sweep's id) and
    "solidflow/sweep_point" (the point, as JSON) and started by the daemon. With `memoize`
    (the default) the steps the points share (those upstream of every swept path) are
    computed once, also by runs that start together. Every point's config is checked first:
    no run is queued when one is invalid.

    Raises:
        ConfigError: the grid, the sample, or a point's config is invalid (the error names
            the point).
        RunRequestError: the pipeline cannot be loaded again by the runs' drivers.
    """
    require_pipeline(pipeline)
    instance = instance if instance is not None else Instance()
    target = target or pipeline_target(pipeline)
    if target is None:
        raise RunRequestError(
            f"pipeline '{pipeline.name}' is not defined at the top level of a file or module: "
            "the runs of a sweep load it there, so give target='file.py:name'"
        )
    points = sweep_points(grid, sample=sample, seed=seed)
    configs = [apply_point(run_config or {}, point) for point in points]
    _check_points(pipeline, mode, solid_selection, points, configs)
    sweep_id = uuid.uuid4().hex[:12]
    runs = []
    for point, config in zip(points, configs, strict=True):
        record = create_run(
            pipeline,
            config,
            mode=mode,
            solid_selection=solid_selection,
            executor=executor,
            instance=instance,
            tags={**(tags or {}), SWEEP_TAG: sweep_id, SWEEP_POINT_TAG: point_tag(point)},
            memoize=memoize,
            target=target,
            priority=priority,
        )
        runs.append(SweepRun(point=point, run_id=record.run_id))
    return Sweep(sweep_id=sweep_id, pipeline=pipeline.name, runs=tuple(runs))


def _check_points(
    pipeline: PipelineDefinition,
    mode: str | None,
    solid_selection: str | Sequence[str] | None,
    points: list[Point],
    configs: list[dict[str, Any]],
) -> None:
    chosen_mode = pipeline_mode(pipeline, mode)
    selected = selected_nodes(pipeline, solid_selection)
    executors = EXECUTORS.config_schemas()
    problems: list[tuple[str, str]] = []
    for point, config in zip(points, configs, strict=True):
        try:
            validate_run_config(config, pipeline, chosen_mode, selected, executors)
        except ConfigError as error:
            problems.extend(
                (f"point {describe_point(point)}: {path}", message)
                for path, message in error.errors
            )
    if problems:
        raise ConfigError(problems)
