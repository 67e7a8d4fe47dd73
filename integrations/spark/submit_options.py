"""Options of solids run through spark-submit, from `@solid(tags={"spark": {"submit": {...}}})`,
checked when the solid is defined."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from solidflow.definitions.solid_options import OptionTable, check_options
from solidflow.errors import DefinitionError


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _settings(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()
    )


SUBMIT_OPTIONS: OptionTable = {
    "master": (lambda v: isinstance(v, str) and bool(v), "a master URL such as spark://host:7077"),
    "deploy_mode": (lambda v: v == "client", "'client' (the Spark driver runs beside solidflow)"),
    "conf": (_settings, "a mapping of Spark settings to strings, numbers or booleans"),
    "py_files": (_strings, "a list of .py, .zip or .egg files for the Python path"),
    "files": (_strings, "a list of files to place in each executor's working directory"),
    "spark_submit": (lambda v: isinstance(v, str) and bool(v), "the path of spark-submit"),
    "timeout": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
        "seconds > 0 after which the submission is stopped",
    ),
    "env": (_settings, "a mapping of environment variables for spark-submit"),
    "executor_wait": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
        "seconds > 0 that the application may wait for executors the cluster has no room for",
    ),
    "master_web_ui": (
        lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
        "the URL of the standalone master's web UI, such as http://host:8080",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitOptions:
    """How a solid is run with spark-submit; `master` None means the master of the run's
    `spark` resource, else local[*]. On a standalone master the application is stopped once it
    waited `executor_wait` seconds for executors that no worker has room for; the master's
    status comes from `master_web_ui` (default: the master's host, port 8080)."""

    master: str | None = None
    deploy_mode: str = "client"
    conf: Mapping[str, Any] = field(default_factory=dict)
    py_files: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    spark_submit: str | None = None
    timeout: float | None = None
    env: Mapping[str, Any] = field(default_factory=dict)
    executor_wait: float = 60.0
    master_web_ui: str | None = None


def check_spark_tags(solid_name: str, options: Any) -> None:
    """Check `tags["spark"]`; a DefinitionError names what is wrong."""
    if not isinstance(options, Mapping) or set(options) - {"submit"}:
        raise DefinitionError(
            f"solid '{solid_name}': tags['spark'] must be a mapping with the key 'submit'"
        )
    submit = options.get("submit", {})
    if not isinstance(submit, Mapping):
        raise DefinitionError(f"solid '{solid_name}': tags['spark']['submit'] must be a mapping")
    check_options(solid_name, "spark-submit", submit, SUBMIT_OPTIONS)


def submit_options(tags: Mapping[str, Any]) -> SubmitOptions | None:
    """The spark-submit options of a solid's (checked) tags, None if it is not submitted."""
    spark = tags.get("spark")
    if not isinstance(spark, Mapping) or "submit" not in spark:
        return None
    submit = dict(spark["submit"])
    for name in ("py_files", "files"):
        if name in submit:
            submit[name] = tuple(submit[name])
    return SubmitOptions(**submit)
