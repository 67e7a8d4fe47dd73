"""The Ray executors against the same DAGs written by hand with `ray.remote`, in one run.

Workloads: a 1 -> N -> 1 fan-out, a chain of N, and M independent solids. Each repetition
runs solidflow (event log and memoization on) and the hand-written versions in alternation on
the same Ray instance, after a warm-up, and prints medians, solids/s and the ratios. Solidflow
runs twice per repetition: a first run, on a store whose outputs were all deleted, which
writes every output, then a re-run without memoization, which computes every step again and
finds its outputs already stored.

Hand-written versions: `ray.remote` tasks (what users write), and an actor pool (the same
calls on 2 plain long-lived actors, in turn: the floor of Ray's own dispatch).

A third version, "protocol", is hand-written Ray that does only what the executor's use of
Ray needs, with none of solidflow's own work: every task takes its description and also
returns a small outcome next to its value, the driver collects the outcomes in batches as
tasks end, and tasks are not reported to Ray's task events (as the executor's default).
Its ratio to the plain version is Ray's share of the overhead; solidflow's first run's
ratio to it is the engine's.

    python benchmarks/ray_overhead.py [--solids 1000] [--independent 10000] [--repetitions 3]
        [--executor ray|ray_tasks] [--address ADDRESS]   (default: a local Ray instance)
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
from solidflow.benchmarks.suite.shapes import PIPELINES, RayActorPool, RayShapes
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


def _ratios(ours: list[float], theirs: list[float]) -> str:
    """The median of the pairwise ratios, and their range."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return f"{statistics.median(ratios):4.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def compare(
    name: str,
    definition: PipelineDefinition,
    baselines: dict[str, Callable[[], object]],
    solids: int,
    instance: Instance,
    repetitions: int,
    executor: str,
) -> None:
    reruns: list[float] = []

    def engine(memoize: bool) -> None:
        config = {"execution": {executor: {}}}
        result = execute_pipeline(definition, config, instance=instance, memoize=memoize)
        assert result.success

    def first_run_then_rerun() -> float:
        delete_outputs(instance)
        first = timed(lambda: engine(True))
        reruns.append(timed(lambda: engine(False)))
        return first

    ours, *theirs = alternate(
        repetitions, first_run_then_rerun, *(lambda fn=fn: timed(fn) for fn in baselines.values())
    )
    first_s = statistics.median(ours)
    print(
        f"{name}: solidflow ({executor}) {first_s * 1000:.0f} ms ({solids / first_s:,.0f} "
        f"solids/s), re-run {statistics.median(reruns[1:]) * 1000:.0f} ms"
    )
    for label, samples in zip(baselines, theirs, strict=True):
        median = statistics.median(samples)
        print(
            f"  {label:<28} {median * 1000:7.0f} ms ({solids / median:7,.0f}/s)  "
            f"solidflow / it: first run {_ratios(ours, samples)}, "
            f"re-run {_ratios(reruns[1:], samples)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solids", type=int, default=1000)
    parser.add_argument("--independent", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--address", default=None)
    parser.add_argument("--executor", default="ray", choices=["ray", "ray_tasks"])
    args = parser.parse_args()
    ray.init(address=args.address, configure_logging=False, log_to_driver=False)
    n = args.solids
    print(
        f"Ray {ray.__version__}, {int(ray.cluster_resources().get('CPU', 0))} CPUs, "
        f"median of {args.repetitions} after a warm-up, event log and memoization on"
    )
    with tempfile.TemporaryDirectory() as home:
        instance = Instance(home)
        by_hand = RayShapes.create()
        pool = RayActorPool()
        m = args.independent
        workloads = (
            (f"fan-out 1-{n}-1", "fan_out", n + 2),
            (f"chain of {n}", "chain", n),
            (f"{m} independent", "independent", m),
        )
        for name, shape, solids in workloads:
            baselines = {
                "hand-written ray.remote": lambda s=shape, n=solids: by_hand.run(s, n),
                "hand-written actor pool": lambda s=shape, n=solids: pool.run(s, n),
                "protocol (tasks)": lambda s=shape, n=solids: PROTOCOL[s](n),
            }
            compare(
                name,
                PIPELINES[shape](solids),
                baselines,
                solids,
                instance,
                args.repetitions,
                args.executor,
            )


if __name__ == "__main__":
    main()
