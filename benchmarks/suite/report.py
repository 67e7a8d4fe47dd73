"""The suite's output: the machine it ran on, a terminal table, results.json."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from solidflow.benchmarks.suite.measure import Result, Spread


def machine() -> dict[str, Any]:
    """Cores, memory and versions of what ran the suite."""
    found: dict[str, Any] = {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }
    for package in ("solidflow", "ray", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _seconds(value: float) -> str:
    if value < 0.001:
        return f"{value * 1e6:,.0f} µs"
    return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"


def _cell(samples: list[float]) -> str:
    spread = Spread.of(samples)
    return f"{_seconds(spread.median)} ({_seconds(spread.low)}-{_seconds(spread.high)})"


def _figure(result: Result) -> str:
    """The per-item figure: ms per solid, GB/s or events/s."""
    median = Spread.of(result.ours).median
    if result.size is not None:
        return f"{result.gb_per_s(result.ours):.2f} GB/s"
    if result.workload == "trivial":
        return f"{median / result.n * 1000:.3f} ms/solid ({result.n / median:,.0f}/s)"
    if result.workload == "event_log":
        return f"{result.extra['ingested_events_per_s']:,.0f} events/s"
    return ""


def table(results: list[Result], title: str) -> Table:
    """The results as a rich table."""
    view = Table(title=title)
    for column in ("workload", "case", "N", "executor", "solidflow", "baseline", "ratio", "rate"):
        view.add_column(column, justify="right" if column in ("N", "ratio") else "left")
    for result in results:
        ratio = result.ratio
        view.add_row(
            result.workload,
            result.case,
            f"{result.n:,}",
            result.executor,
            _cell(result.ours),
            f"{result.baseline_name}: {_cell(result.baseline)}" if result.baseline else "",
            f"{ratio.median:.2f}x ({ratio.low:.2f}-{ratio.high:.2f})" if ratio else "",
            _figure(result),
        )
    return view


def write_json(path: Path, settings: dict[str, Any], results: list[Result]) -> None:
    document = {
        "machine": machine(),
        "settings": settings,
        "results": [result.as_dict() for result in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def print_table(results: list[Result], title: str, console: Console | None = None) -> None:
    (console or Console()).print(table(results, title))
