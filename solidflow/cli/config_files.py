"""run_config from YAML files, merged in order, and key=value tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from solidflow.errors import ConfigError

if TYPE_CHECKING:
    import yaml


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` merged into `base`: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_run_config(paths: Iterable[str]) -> dict[str, Any]:
    """The run_config made of the YAML files `paths`, later files overriding earlier ones."""
    import yaml  # here: the commands that take no config start without it

    merged: dict[str, Any] = {}
    for path in paths:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            message = f"cannot read config file {path}: {exc.strerror}"
            raise click.BadParameter(message, param_hint="'-c' / '--config'") from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                [("", f"config file {path} is not valid YAML: {_yaml_problem(exc)}")]
            ) from None
        if not isinstance(loaded, Mapping):
            raise ConfigError([("", f"config file {path} must hold a mapping at the top level")])
        merged = deep_merge(merged, loaded)
    return merged


def _yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong in a YAML file and where, on one line."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem is None:
        return " ".join(str(error).split())
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def parse_tags(ctx: click.Context, param: click.Parameter, pairs: Iterable[str]) -> dict[str, str]:
    """The --tag options as a mapping (a click callback: a bad pair is a usage error)."""
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"tag {pair!r} must look like key=value", ctx, param)
        tags[key] = value
    return tags
