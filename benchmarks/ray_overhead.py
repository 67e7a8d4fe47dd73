"""The Ray executor against the same DAGs written by hand with `ray.remote`, in one run.

Workloads: a 1 -> N -> 1 fan-out, a chain of N, and M independent solids. Each repetition
runs solidflow (event log on) and the hand-written version in alternation on the same Ray
instance, after a warm-up, and prints medians, solids/s and the ratio. Solidflow runs twice
per repetition: a first run, on a store whose outputs were all deleted, which writes every
output, then a re-run without memoization, which computes every step again and finds its
outputs already stored.

A third version, "protocol", is hand-written Ray that does only what the executor's use of
Ray needs, with none of solidflow's own work: every task takes its description and also
returns a small outcome next to its value, the driver collects the outcomes in batches as
tasks end, and tasks are not reported to Ray's task events (as the executor's default).
Its ratio to the plain version is Ray's share of the overhead; solidflow's first run's
ratio to it is the engine's.

    python benchmarks/ray_overhead.py [--solids 1000] [--independent 10000] [--repetitions 3]
        [--address ADDRESS]   (default: a local Ray instance)
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import ray

from solidflow import Instance, PipelineDefinition, execute_pipeline
from solidflow.benchmarks.suite.measure import alternate, timed
from solidflow.benchmarks.suite.shapes import PIPELINES, RayShapes
from solidflow.benchmarks.suite.workloads import delete_outputs

OUTCOME = [True, [], None, None, None, []]
"""What a protocol task returns besides its value: the shape of a step's outcome."""


@ray.remote(num_returns=2, enable_task_events=False)
def protocol_source(step: list[Any]) -> tuple[list[Any], int]:
    return OUTCOME, 1


@ray.remote(num_returns=2, enable_task_events=False)
def protocol_increment(step: list[Any], x: int) -> tuple[list[Any], int]:
    return OUTCOME, x + 1


@ray.remote(num_returns=2, enable_task_events=False)
def protocol_total(step: list[Any], *values: int) -> tuple[list[Any], int]:
    return OUTCOME, sum(values)


def _step(i: int) -> list[Any]:
    """A task's description, the size of the executor's: run, step, config, inputs, keys."""
    return ["run", f"step_{i}", None, {}, {"result": "0" * 64}, "0" * 64, None]


def _collect_outcomes(outcomes: Sequence[Any]) -> None:
    """Wait for every outcome the way the executor does: batches of ended tasks among the
    oldest pending ones, each fetched as it ends."""
    pending = dict.fromkeys(outcomes)
    while pending:
        window = list(itertools.islice(pending, 400))
        wanted = max(1, min(100, len(window) // 4))
        ready, _ = ray.wait(window, num_returns=wanted, timeout=0.2, fetch_local=False)
        for ref, _outcome in zip(ready, ray.get(ready), strict=True):
            del pending[ref]


def protocol_fan_out(n: int) -> None:
    root_outcome, root = protocol_source.remote(_step(0))
    leaves = [protocol_increment.remote(_step(i + 1), root) for i in range(n - 2)]
    total_outcome, _ = protocol_total.remote(_step(n - 1), *(value for _, value in leaves))
    _collect_outcomes([root_outcome, *(outcome for outcome, _ in leaves), total_outcome])


def protocol_chain(n: int) -> None:
    outcome, value = protocol_source.remote(_step(0))
    outcomes = [outcome]
    for i in range(n - 1):
        outcome, value = protocol_increment.remote(_step(i + 1), value)
        outcomes.append(outcome)
    _collect_outcomes(outcomes)


def protocol_independent(n: int) -> None:
    _collect_outcomes([protocol_source.remote(_step(i))[0] for i in range(n)])


PROTOCOL: dict[str, Callable[[int], None]] = {
    "fan_out": protocol_fan_out,
    "chain": protocol_chain,
    "independent": protocol_independent,
}
"""The protocol version of each shape, for N solids in all (as the suite's shapes count)."""


def compare(
    name: str,
    definition: PipelineDefinition,
    by_hand: Callable[[], object],
    protocol: Callable[[], object],
    solids: int,
    instance: Instance,
    repetitions: int,
) -> None:
    reruns: list[float] = []

    def engine() -> None:
        result = execute_pipeline(definition, {"execution": {"ray": {}}}, instance=instance)
        assert result.success

    def first_run_then_rerun() -> float:
        delete_outputs(instance)
        first = timed(engine)
        reruns.append(timed(engine))
        return first

    ours, theirs, floor = alternate(
        repetitions, first_run_then_rerun, lambda: timed(by_hand), lambda: timed(protocol)
    )
    first_s, rerun_s, theirs_s, floor_s = (
        statistics.median(times) for times in (ours, reruns[1:], theirs, floor)
    )
    print(
        f"{name:<18} solidflow {first_s * 1000:6.0f} ms ({solids / first_s:5.0f} solids/s), "
        f"re-run {rerun_s * 1000:6.0f} ms  "
        f"hand-written Ray {theirs_s * 1000:6.0f} ms ({solids / theirs_s:5.0f} tasks/s)  "
        f"ratio {first_s / theirs_s:4.2f}x, re-run {rerun_s / theirs_s:4.2f}x  "
        f"[{first_s / solids * 1000:.2f} vs {theirs_s / solids * 1000:.2f} ms per solid]  "
        f"protocol {floor_s * 1000:6.0f} ms: Ray's share {floor_s / theirs_s:4.2f}x, "
        f"solidflow's {first_s / floor_s:4.2f}x"
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
        by_hand = RayShapes.create()
        m = args.independent
        workloads = (
            (f"fan-out 1-{n}-1", "fan_out", n + 2),
            (f"chain of {n}", "chain", n),
            (f"{m} independent", "independent", m),
        )
        for name, shape, solids in workloads:
            compare(
                name,
                PIPELINES[shape](solids),
                lambda shape=shape, solids=solids: by_hand.run(shape, solids),
                lambda shape=shape, solids=solids: PROTOCOL[shape](solids),
                solids,
                instance,
                args.repetitions,
            )


if __name__ == "__main__":
    main()
