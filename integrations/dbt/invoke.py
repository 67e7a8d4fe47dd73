"""Run `dbt build` and count the rows of what it built; run as a program by dbt solids
(`python -m solidflow.integrations.dbt.invoke REQUEST.json SUMMARY.json`), so that dbt's
global state and logging stay out of the solid's process.

The summary is JSON: {"results": [...], "error": the message of a dbt error or null,
"warning": why rows could not be counted or null}, each result with the node's unique_id, resource_type, name, status, execution_time, failures,
message, relation_name, materialized, timing and rows (models, seeds and snapshots).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.contracts.graph.manifest import Manifest

_BUILT = ("model", "seed", "snapshot")


def _describe(result: Any) -> dict[str, Any]:
    node = result.node
    return {
        "unique_id": node.unique_id,
        "resource_type": str(node.resource_type),
        "name": node.name,
        "status": str(result.status),
        "execution_time": result.execution_time,
        "failures": result.failures,
        "message": result.message,
        "relation_name": getattr(node, "relation_name", None),
        "materialized": getattr(node.config, "materialized", None),
        "timing": [
            {
                "name": timing.name,
                "started_at": timing.started_at.isoformat() if timing.started_at else None,
                "completed_at": timing.completed_at.isoformat() if timing.completed_at else None,
            }
            for timing in result.timing
        ],
        "rows": None,
    }


def _count_rows(runner: Any, common: list[str], results: list[dict[str, Any]]) -> str | None:
    """Fill in `rows` of the relations built, with one query; returns an error message."""
    built = [
        r
        for r in results
        if r["resource_type"] in _BUILT
        and r["status"] == "success"
        and r["relation_name"]
        and r["materialized"] != "ephemeral"
    ]
    if not built:
        return None
    query = " union all ".join(
        f"select '{r['unique_id']}' as node, count(*) as n from {r['relation_name']}" for r in built
    )
    shown = runner.invoke(["show", *common, "--inline", query, "--limit", "-1"])
    if not shown.success:
        return f"counting rows failed: {shown.exception or 'dbt show failed'}"
    counts = {row[0]: int(row[1]) for row in shown.result.results[0].agate_table.rows}
    for r in built:
        r["rows"] = counts.get(r["unique_id"])
    return None


def main(request_path: str, summary_path: str) -> int:
    from dbt.cli.main import dbtRunner

    with open(request_path) as file:
        request = json.load(file)
    common: list[str] = request["common"]
    parsed = dbtRunner().invoke(["parse", *common])
    summary: dict[str, Any]
    if not parsed.success:
        summary = {"results": [], "error": f"dbt parse failed: {parsed.exception}", "warning": None}
    else:
        # dbtRunnerResult.result is a union of every command's result: parse makes a
        # Manifest, build a RunExecutionResult (or None when it could not run).
        runner = dbtRunner(manifest=cast("Manifest", parsed.result))
        built = runner.invoke(["build", *common, *request["build"]])
        outcome = cast("RunExecutionResult | None", built.result)
        results = [_describe(r) for r in outcome.results] if outcome else []
        error = None if outcome is not None else f"dbt build failed: {built.exception}"
        warning = _count_rows(runner, common, results) if error is None else None
        summary = {"results": results, "error": error, "warning": warning}
    with open(summary_path, "w") as file:
        json.dump(summary, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
