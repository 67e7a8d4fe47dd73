"""The Ray executor against the same DAGs written by hand with `ray.remote`, in one run.

Workloads: a 1 -> N -> 1 fan-out, a chain of N, and M independent solids. Each repetition
runs solidflow (event log on, outputs stored) and the hand-written version in alternation on
the same Ray instance, after a warm-up, and prints medians, solids/s and the ratio.

    python benchmarks/ray_overhead.py [--solids 1000] [--independent 10000] [--repetitions 3]
        [--address ADDRESS]   (default: a local Ray instance)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import ray
from trivial_dags import chain, fan_out, independent

from solidflow import Instance, PipelineDefinition, execute_pipeline


@ray.remote
def hand_source() -> int:
    return 1


@ray.remote
def hand_increment(x: int) -> int:
    return x + 1


@ray.remote
def hand_total(*values: int) -> int:
    return sum(values)


def hand_fan_out(n: int) -> int:
    root = hand_source.remote()
    return ray.get(hand_total.remote(*(hand_increment.remote(root) for _ in range(n))))


def hand_chain(n: int) -> int:
    value = hand_source.remote()
    for _ in range(n - 1):
        value = hand_increment.remote(value)
    return ray.get(value)


def hand_independent(n: int) -> int:
    return len(ray.get([hand_source.remote() for _ in range(n)]))


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(
    name: str,
    definition: PipelineDefinition,
    by_hand: Callable[[], object],
    solids: int,
    instance: Instance,
    repetitions: int,
) -> None:
    config = {"execution": {"ray": {}}}

    def engine() -> None:
        result = execute_pipeline(definition, config, instance=instance)
        assert result.success

    engine()
    by_hand()
    ours, theirs = [], []
    for _ in range(repetitions):
        ours.append(_timed(engine))
        theirs.append(_timed(by_hand))
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    print(
        f"{name:<22} solidflow {ours_s * 1000:8.0f} ms ({solids / ours_s:6.0f} solids/s)  "
        f"hand-written Ray {theirs_s * 1000:8.0f} ms ({solids / theirs_s:6.0f} tasks/s)  "
        f"ratio {ours_s / theirs_s:5.2f}x  "
        f"[{ours_s / solids * 1000:.2f} vs {theirs_s / solids * 1000:.2f} ms per solid]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solids", type=int, default=1000)
    parser.add_argument("--independent", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--address", default=None)
    args = parser.parse_args()
    ray.init(address=args.address, configure_logging=False, log_to_driver=False)
    n = args.solids
    print(
        f"Ray {ray.__version__}, {int(ray.cluster_resources().get('CPU', 0))} CPUs, "
        f"median of {args.repetitions} after a warm-up, event log on"
    )
    with tempfile.TemporaryDirectory() as home:
        instance = Instance(home)
        compare(
            f"fan-out 1-{n}-1",
            fan_out(n),
            lambda: hand_fan_out(n),
            n + 2,
            instance,
            args.repetitions,
        )
        compare(f"chain of {n}", chain(n), lambda: hand_chain(n), n, instance, args.repetitions)
        m = args.independent
        compare(
            f"{m} independent",
            independent(m),
            lambda: hand_independent(m),
            m,
            instance,
            args.repetitions,
        )


if __name__ == "__main__":
    main()
