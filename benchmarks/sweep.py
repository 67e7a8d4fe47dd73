"""A sweep over a pipeline whose expensive upstream every point shares: N points, the daemon
running at most 4 at once, memoization on.

Measures the sweep's wall time (from queuing its runs to the end of the last one) against
one run of the pipeline through the same daemon plus the N downstream parts (the sum of the
downstream steps' durations in the sweep), and, with --without-sharing, the same sweep with
memoization off (each point computes the upstream itself).

    python benchmarks/sweep.py [--points 20] [--upstream 10] [--part 0.5] [--without-sharing]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from solidflow import Instance, RunStatus, create_run, launch_sweep, sweep_summary
from solidflow.benchmarks.queue_workloads import shared_upstream
from solidflow.daemon import Daemon, DaemonReport
from solidflow.engine import EventType

TARGET = "solidflow.benchmarks.queue_workloads:shared_upstream"


def _instance(root: str, name: str) -> Instance:
    home = Path(root) / name
    home.mkdir()
    (home / "solidflow.yaml").write_text(
        "run_queue: {max_concurrent_runs: 4, dequeue_interval: 0.05}\n"
        "run_monitoring: {heartbeat_interval: 1}\n"
    )
    return Instance(home)


def _until_ended(instance: Instance, run_ids: list[str]) -> float:
    """Run a daemon until the runs ended; the seconds it took."""
    stop = threading.Event()

    def on_pass(report: DaemonReport) -> None:
        if all(instance.storage.get_run(run_id).status.ended for run_id in run_ids):
            stop.set()

    began = time.time()
    Daemon(instance, workspace=[]).run(stop, on_pass)
    ended = max(instance.storage.get_run(run_id).end_time for run_id in run_ids)
    return ended - began


def _config(upstream: float, part: float) -> dict:
    return {
        "solids": {
            "expensive": {"config": {"seconds": upstream}},
            "part": {"config": {"seconds": part}},
        }
    }


def one_run(instance: Instance, upstream: float, part: float) -> float:
    run = create_run(shared_upstream, _config(upstream, part), instance=instance, target=TARGET)
    took = _until_ended(instance, [run.run_id])
    assert instance.storage.get_run(run.run_id).status is RunStatus.SUCCESS
    return took


def sweep(
    instance: Instance, points: int, upstream: float, part: float, memoize: bool
) -> tuple[float, float, int]:
    """The sweep's seconds, the sum of its downstream parts' seconds, and how many of its
    runs computed the upstream."""
    queued = launch_sweep(
        shared_upstream,
        _config(upstream, part),
        {"solids.part.config.x": list(range(points))},
        instance=instance,
        memoize=memoize,
        target=TARGET,
    )
    run_ids = [each.run_id for each in queued.runs]
    took = _until_ended(instance, run_ids)
    summary = sweep_summary(instance, queued.sweep_id)
    assert all(row.status is RunStatus.SUCCESS for row in summary.rows)
    parts = upstreams = 0.0
    for run_id in run_ids:
        started: dict[str, float] = {}
        for event in instance.events(run_id):
            if event.type is EventType.STEP_START:
                started[event.step] = event.timestamp
            elif event.type is EventType.STEP_SUCCESS and event.step == "part":
                parts += event.timestamp - started["part"]
            elif event.type is EventType.STEP_SUCCESS and event.step == "expensive":
                upstreams += 1
    return took, parts, int(upstreams)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--upstream", type=float, default=10.0, help="seconds of the upstream")
    parser.add_argument("--part", type=float, default=0.5, help="seconds of each downstream part")
    parser.add_argument(
        "--without-sharing", action="store_true", help="also sweep without memoization"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        single = one_run(_instance(root, "one"), args.upstream, args.part)
        took, parts, computed = sweep(
            _instance(root, "sweep"), args.points, args.upstream, args.part, True
        )
        unshared = None
        if args.without_sharing:
            unshared = sweep(
                _instance(root, "unshared"), args.points, args.upstream, args.part, False
            )
    bound = 1.5 * (single + parts)
    print(
        f"sweep of {args.points} points, upstream {args.upstream:g} s, parts {args.part:g} s, "
        "at most 4 runs at once"
    )
    print(f"one run                      {single:7.1f} s")
    print(f"the {args.points} downstream parts       {parts:7.1f} s (sum of their step times)")
    print(
        f"sweep, memoized              {took:7.1f} s  upstream computed by {computed} run(s)  "
        f"{took / (single + parts):.2f}x (one run + parts); goal under 1.5x ({bound:.1f} s)"
    )
    if unshared is not None:
        print(
            f"sweep, without memoization   {unshared[0]:7.1f} s  upstream computed by "
            f"{unshared[2]} run(s)  {unshared[0] / took:.2f}x the memoized sweep"
        )


if __name__ == "__main__":
    main()
