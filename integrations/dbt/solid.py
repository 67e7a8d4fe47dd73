"""dbt_solid: a solid that runs `dbt build` on a dbt project (dbt-core and an adapter)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from solidflow.definitions.events import ExpectationResult, Materialization, Output
from solidflow.definitions.solid import SolidDefinition, solid
from solidflow.errors import DefinitionError

_BUILT = ("model", "seed", "snapshot")
_OFFLINE = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
_OUTPUT_TAIL = 20
"""Lines of dbt's own output a failure message quotes."""


class DbtError(RuntimeError):
    """dbt failed: a test failed, a model did not build, or dbt itself stopped."""


def _arguments(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    select: Sequence[str],
    exclude: Sequence[str],
    dbt_vars: Mapping[str, Any] | None,
    full_refresh: bool,
) -> dict[str, list[str]]:
    common = ["--project-dir", str(project_dir)]
    if profiles_dir is not None:
        common += ["--profiles-dir", str(profiles_dir)]
    if target is not None:
        common += ["--target", target]
    if dbt_vars:
        common += ["--vars", json.dumps(dict(dbt_vars))]
    build = []
    if select:
        build += ["--select", *select]
    if exclude:
        build += ["--exclude", *exclude]
    if full_refresh:
        build.append("--full-refresh")
    return {"common": common, "build": build}


_PROJECT_FILES = ("*.sql", "*.yml", "*.yaml", "*.csv", "*.py")
_NOT_SOURCES = {"target", "logs", "dbt_packages", "dbt_modules"}


def _project_version(project: Path) -> str:
    """A hash of the project's sources, so that the memo key changes with them."""
    digest = hashlib.sha256()
    for pattern in _PROJECT_FILES:
        for path in sorted(project.rglob(pattern)):
            relative = path.relative_to(project)
            if relative.parts[0] not in _NOT_SOURCES and path.is_file():
                digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"dbt:{project.name}:{digest.hexdigest()[:16]}"


def _invoke(request: dict[str, list[str]], project_dir: Path) -> tuple[dict[str, Any], str]:
    """Run dbt in a child process; returns its summary and the tail of its output."""
    with tempfile.TemporaryDirectory(prefix="solidflow-dbt-") as scratch:
        request_path, summary_path = Path(scratch) / "request.json", Path(scratch) / "summary.json"
        request_path.write_text(json.dumps(request))
        done = subprocess.run(
            [sys.executable, "-m", "solidflow.integrations.dbt.invoke", request_path, summary_path],
            cwd=project_dir,
            env={**os.environ, **_OFFLINE},
            capture_output=True,
            text=True,
            check=False,
        )
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-_OUTPUT_TAIL:])
        if not summary_path.exists():
            raise DbtError(f"dbt stopped (exit code {done.returncode}):\n{tail}")
        return json.loads(summary_path.read_text()), tail


def _events(result: dict[str, Any]) -> Iterator[Any]:
    kind, status = result["resource_type"], result["status"]
    if kind in _BUILT and status == "success":
        metadata = {
            "unique_id": result["unique_id"],
            "relation": result["relation_name"],
            "materialized": result["materialized"],
            "execution_time": result["execution_time"],
            "timing": result["timing"],
        }
        if result["rows"] is not None:
            metadata["rows"] = result["rows"]
        yield Materialization(
            asset_key=f"dbt/{result['name']}",
            metadata=metadata,
            description=f"dbt {kind} {result['name']}",
        )
    elif kind == "test" and status in ("pass", "fail", "warn", "error"):
        yield ExpectationResult(
            success=status in ("pass", "warn"),
            label=result["name"],
            description=result["message"],
            metadata={
                "unique_id": result["unique_id"],
                "status": status,
                "failures": result["failures"],
                "execution_time": result["execution_time"],
            },
        )


def _failure(results: list[dict[str, Any]]) -> str | None:
    """What failed, naming the tests and nodes, or None."""
    failed = [r for r in results if r["status"] in ("fail", "error", "runtime error")]
    if not failed:
        return None
    described = []
    for result in failed:
        detail = f": {result['message']}" if result["message"] else ""
        described.append(f"dbt {result['resource_type']} '{result['name']}' failed{detail}")
    skipped = [r["name"] for r in results if r["status"] == "skipped"]
    if skipped:
        described.append(f"skipped: {', '.join(skipped)}")
    return "; ".join(described)


def dbt_solid(
    project_dir: str | os.PathLike[str],
    select: str | Sequence[str] | None = None,
    *,
    name: str | None = None,
    exclude: str | Sequence[str] | None = None,
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> SolidDefinition:
    """A solid that runs `dbt build` on the project at `project_dir` (dbt selection syntax in
    `select`/`exclude`; `profiles_dir` defaults to dbt's own rule).

    Each model, seed and snapshot built is a Materialization (`dbt/<name>`) with its relation,
    rows and timing; each dbt test an ExpectationResult labelled with the test's name. A
    failing test or a node that does not build fails the solid, naming them. The output
    `result` summarises every node (name -> status, rows). The optional input `start_after`
    orders the solid after others (its value is not used). The memo key sees the project's
    files (SQL, YAML, seeds), not the data in the warehouse.
    """
    project = Path(project_dir).expanduser().resolve()
    if not (project / "dbt_project.yml").is_file():
        raise DefinitionError(f"dbt solid: no dbt_project.yml in {project}")
    solid_name = name or f"dbt_{project.name}"
    request = _arguments(
        project,
        Path(profiles_dir).expanduser().resolve() if profiles_dir is not None else None,
        target,
        [select] if isinstance(select, str) else list(select or ()),
        [exclude] if isinstance(exclude, str) else list(exclude or ()),
        vars,
        full_refresh,
    )

    def run_dbt(context: Any, start_after: Any = None) -> Iterator[Any]:
        context.log.info(f"dbt build in {project}")
        summary, tail = _invoke(request, project)
        if summary["warning"]:
            context.log.warning(summary["warning"])
        for result in summary["results"]:
            context.log.info(
                f"dbt {result['resource_type']} {result['name']}: {result['status']} "
                f"in {result['execution_time']:.2f} s"
            )
            yield from _events(result)
        if summary["error"]:
            raise DbtError(f"{summary['error']}\n{tail}")
        failure = _failure(summary["results"])
        if failure is not None:
            raise DbtError(failure)
        yield Output(
            {r["name"]: {"status": r["status"], "rows": r["rows"]} for r in summary["results"]}
        )

    run_dbt.__name__ = run_dbt.__qualname__ = solid_name
    return solid(
        name=solid_name,
        description=description or f"dbt build of {project.name}",
        version=_project_version(project),
        tags=tags,
    )(run_dbt)
