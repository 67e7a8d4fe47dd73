"""The points of a sweep: a grid of values for config paths, all of its combinations or a
seeded random sample of them, each applied to a base run_config."""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from solidflow.errors import ConfigError

Grid = Mapping[str, Sequence[Any]]
Point = dict[str, Any]


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """`path=v1,v2,...` as (path, values); each value is read as YAML (3 is a number, true a
    boolean, abc a string).

    Raises:
        ConfigError: the option does not look like that.
    """
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise ConfigError([("grid", f"--grid {text!r} must look like path=value1,value2,...")])
    parsed = []
    for value in values.split(","):
        try:
            parsed.append(yaml.safe_load(value) if value.strip() else "")
        except yaml.YAMLError:
            parsed.append(value)
    return path.strip(), parsed


def sweep_points(grid: Grid, *, sample: int | None = None, seed: int | None = None) -> list[Point]:
    """Every combination of the grid's values (the last path varies fastest), or `sample` of
    them drawn at random with `seed` (without repeats).

    Raises:
        ConfigError: the grid is empty, a path has no values, or the sample is larger than
            the grid.
    """
    if not grid:
        raise ConfigError([("grid", "a sweep needs at least one config path and its values")])
    for path, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError([(path, "a sweep needs a non-empty list of values for each path")])
    paths = list(grid)
    points = [
        dict(zip(paths, combination, strict=True))
        for combination in itertools.product(*grid.values())
    ]
    if sample is None:
        return points
    if not 0 < sample <= len(points):
        raise ConfigError([("random", f"cannot draw {sample} points from a grid of {len(points)}")])
    return random.Random(seed).sample(points, sample)


def apply_point(run_config: Mapping[str, Any], point: Point) -> dict[str, Any]:
    """`run_config` with each dotted path of `point` set to its value (mappings on the way are
    made when missing).

    Raises:
        ConfigError: a path goes through a value that is not a mapping.
    """
    config: dict[str, Any] = copy.deepcopy(dict(run_config))
    for path, value in point.items():
        *parents, last = path.split(".")
        node = config
        for depth, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parents[: depth + 1])
                raise ConfigError(
                    [(path, f"{where} is {child!r} in the base config, not a mapping")]
                )
            node = child
        node[last] = value
    return config


def describe_point(point: Point) -> str:
    """`path=value` pairs of a point, by the last part of each path ("lr=0.1 depth=3"), or
    by the whole path where last parts repeat."""
    lasts = [path.rsplit(".", 1)[-1] for path in point]
    short = len(set(lasts)) == len(lasts)
    return " ".join(
        f"{last if short else path}={value}"
        for (path, value), last in zip(point.items(), lasts, strict=True)
    )
