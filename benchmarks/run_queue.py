"""The daemon starting queued runs: N queued runs of a 10-solid pipeline, at most 4 at once.

Measures runs per minute, the queue-to-start latency of each run (from the moment it could
start, when it was queued or when a slot freed, to its driver's start) and the part of it
the daemon adds (to the moment the daemon launched it: its polling, its queries and the
process spawn), against a hand-written pool of 4 threads that launch the same runs' drivers
with `launch_run` and wait for them, measured in the same process, one after the other.

    python benchmarks/run_queue.py [--runs 100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from solidflow import Instance, RunStatus, create_run, launch_run
from solidflow.benchmarks.queue_workloads import ten_solids
from solidflow.daemon import Daemon, DaemonReport
from solidflow.engine import SubprocessRunLauncher

TARGET = "solidflow.benchmarks.queue_workloads:ten_solids"


def _instance(root: str, name: str, concurrency: int) -> Instance:
    home = Path(root) / name
    home.mkdir()
    (home / "solidflow.yaml").write_text(
        f"run_queue: {{max_concurrent_runs: {concurrency}, dequeue_interval: 0.05}}\n"
    )
    return Instance(home)


def _queue(instance: Instance, runs: int) -> list[str]:
    return [create_run(ten_solids, instance=instance, target=TARGET).run_id for _ in range(runs)]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _ready_times(
    instance: Instance, run_ids: list[str], launch_order: list[str], began: float, concurrency: int
) -> dict[str, float]:
    """When each run could have started: queued (or the start of the measurement), and for all
    but the first `concurrency` launched, the end of the run whose slot it took."""
    runs = {run_id: instance.storage.get_run(run_id) for run_id in run_ids}
    ends = sorted(run.end_time for run in runs.values())
    ready = {}
    for index, run_id in enumerate(launch_order):
        moment = max(runs[run_id].create_time, began)
        if index >= concurrency:
            moment = max(moment, ends[index - concurrency])
        ready[run_id] = moment
    return ready


def with_daemon(instance: Instance, runs: int, concurrency: int) -> dict[str, float]:
    run_ids = _queue(instance, runs)
    launched: dict[str, float] = {}

    def on_pass(report: DaemonReport) -> None:
        launched.update({each.run_id: each.launch_time for each in report.started})
        if len(launched) == runs and all(
            instance.storage.get_run(run_id).status.ended for run_id in run_ids
        ):
            stop.set()

    stop = threading.Event()
    began = time.time()
    Daemon(instance, workspace=[]).run(stop, on_pass)
    took = time.time() - began
    return _figures(instance, run_ids, launched, began, took, concurrency)


def by_hand(instance: Instance, runs: int, concurrency: int) -> dict[str, float]:
    run_ids = _queue(instance, runs)
    launched: dict[str, float] = {}
    launcher = SubprocessRunLauncher()

    def run(run_id: str) -> None:
        launched[run_id] = time.time()
        launch_run(run_id, instance=instance, launcher=launcher).process.wait()

    began = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, run_ids))
    took = time.time() - began
    return _figures(instance, run_ids, launched, began, took, concurrency)


def _figures(
    instance: Instance,
    run_ids: list[str],
    launched: dict[str, float],
    began: float,
    took: float,
    concurrency: int,
) -> dict[str, float]:
    records = [instance.storage.get_run(run_id) for run_id in run_ids]
    assert all(run.status is RunStatus.SUCCESS for run in records), "a run did not succeed"
    order = sorted(launched, key=launched.__getitem__)
    ready = _ready_times(instance, run_ids, order, began, concurrency)
    to_start = [run.start_time - ready[run.run_id] for run in records]
    added = [launched[run_id] - ready[run_id] for run_id in run_ids]
    return {
        "seconds": took,
        "runs_per_minute": 60 * len(run_ids) / took,
        "start_median": statistics.median(to_start),
        "start_p95": _percentile(to_start, 0.95),
        "added_median": statistics.median(added),
        "added_p95": _percentile(added, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        daemon = with_daemon(
            _instance(root, "daemon", args.concurrency), args.runs, args.concurrency
        )
        pool = by_hand(_instance(root, "by_hand", args.concurrency), args.runs, args.concurrency)
    print(f"{args.runs} queued runs of a 10-solid pipeline, at most {args.concurrency} at once")
    for name, figures in (("daemon", daemon), ("hand-written pool", pool)):
        print(
            f"{name:<18} {figures['seconds']:7.1f} s  {figures['runs_per_minute']:6.1f} runs/min  "
            f"queue-to-start median {1000 * figures['start_median']:6.0f} ms  "
            f"p95 {1000 * figures['start_p95']:6.0f} ms  "
            f"launch delay median {1000 * figures['added_median']:5.1f} ms  "
            f"p95 {1000 * figures['added_p95']:5.1f} ms"
        )
    print(f"daemon / hand-written pool: {daemon['seconds'] / pool['seconds']:.2f}x the time")


if __name__ == "__main__":
    main()
