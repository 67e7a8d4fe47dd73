"""PNG plots of a suite's results (matplotlib, without a display)."""

from __future__ import annotations

from pathlib import Path

from solidflow.benchmarks.suite.measure import Result, Spread

OVERHEAD_PLOT = "per_solid_overhead.png"
DATA_PLANE_PLOT = "data_plane.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_solid_overhead(results: list[Result], path: Path) -> None:
    """Milliseconds per solid against N, per shape: solidflow, its baselines (hand-written
    Ray tasks and actor pool, plain Python) and the task-per-step executor where measured."""
    plt = _pyplot()
    main = next((r.executor for r in results if r.workload == "trivial"), None)
    trivial = [r for r in results if r.workload == "trivial" and r.executor == main]
    pools = {(r.case, r.n): r for r in results if r.workload == "trivial_vs_actors"}
    others = [r for r in results if r.workload == "trivial" and r.executor != main]
    figure, axes = plt.subplots(figsize=(8, 5))
    for index, shape in enumerate(sorted({r.case for r in trivial})):
        rows = sorted((r for r in trivial if r.case == shape), key=lambda r: r.n)
        first = rows[0]
        lines = [("ours", "o-", f"solidflow ({first.executor})", rows)]
        if first.baseline and first.baseline_name != "plain Python":
            lines.append(("baseline", "s--", first.baseline_name, rows))
        if first.floor:
            lines.append(("floor", "^:", "plain Python", rows))
        pooled = [pools[(shape, r.n)] for r in rows if (shape, r.n) in pools]
        if pooled:
            lines.append(("baseline", "d-.", pooled[0].baseline_name, pooled))
        older = sorted((r for r in others if r.case == shape), key=lambda r: r.n)
        if older:
            lines.append(("ours", "x", f"solidflow ({older[0].executor})", older))
        for attribute, style, label, found in lines:
            per_solid = [Spread.of(getattr(r, attribute)).median / r.n * 1000 for r in found]
            axes.plot(
                [r.n for r in found], per_solid, style, color=f"C{index}", label=f"{shape}: {label}"
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("solids (N)")
    axes.set_ylabel("wall time per solid (ms)")
    axes.set_title("Per-solid overhead on trivial solids")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="x-small", ncols=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def data_plane(results: list[Result], path: Path) -> None:
    """GB/s through the data-plane chain: solidflow (per durability) and its baseline."""
    plt = _pyplot()
    rows = [r for r in results if r.workload == "data_plane"]
    labels, rates = [], []
    for row in rows:
        labels.append(f"solidflow ({row.executor}, {row.case.rsplit(', ', 1)[-1]})")
        rates.append(row.gb_per_s(row.ours))
    if rows and rows[0].baseline:
        labels.append(rows[0].baseline_name)
        rates.append(rows[0].gb_per_s(rows[0].baseline))
    figure, axes = plt.subplots(figsize=(7, 4))
    bars = axes.bar(labels, rates, color=[f"C{i}" for i in range(len(labels))])
    axes.bar_label(bars, fmt="%.2f")
    axes.set_ylabel("GB/s")
    axes.tick_params(axis="x", labelsize="small")
    axes.set_title(rows[0].case.rsplit(", durability", 1)[0] if rows else "data plane")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_plots(results: list[Result], directory: Path) -> list[Path]:
    """Both plots in `directory`; their paths."""
    paths = [directory / OVERHEAD_PLOT, directory / DATA_PLANE_PLOT]
    per_solid_overhead(results, paths[0])
    data_plane(results, paths[1])
    return paths
