"""Per-solid overhead of the in-process executor with the event log on.

Runs a 1 -> N -> 1 fan-out and a chain of N solids through `execute_pipeline` (events go to a
SQLite event log in a temporary instance) and the same work as plain function calls, in
alternation, and prints medians and the overhead per solid.

    python benchmarks/in_process_overhead.py [--solids 1000] [--repetitions 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable

from solidflow import Instance, PipelineDefinition, execute_pipeline
from solidflow.benchmarks.suite.measure import timed
from solidflow.benchmarks.trivial_dags import chain, chain_by_hand, fan_out, fan_out_by_hand


def measure(
    name: str,
    definition: PipelineDefinition,
    last_step: str,
    by_hand: Callable[[], int],
    n: int,
    repetitions: int,
) -> None:
    with tempfile.TemporaryDirectory() as home:
        instance = Instance(home)
        run = lambda: execute_pipeline(definition, instance=instance)  # noqa: E731
        expected = by_hand()
        result = run()
        assert result.success and result.output_for(last_step) == expected
        engine, plain = [], []
        for _ in range(repetitions):
            engine.append(timed(run))
            plain.append(timed(by_hand))
        events = len(result.events)
    engine_s, plain_s = statistics.median(engine), statistics.median(plain)
    overhead_ms = (engine_s - plain_s) / n * 1000
    print(
        f"{name:<14} {n:>6} solids  engine {engine_s * 1000:9.1f} ms "
        f"(spread {min(engine) * 1000:.1f}-{max(engine) * 1000:.1f})  "
        f"plain calls {plain_s * 1000:7.3f} ms  overhead {overhead_ms:.3f} ms/solid  "
        f"{n / engine_s:8.0f} solids/s  {events} events/run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solids", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    n = args.solids
    print(
        f"in-process executor, event log on (SQLite), median of {args.repetitions} after a warm-up"
    )
    measure(
        "fan-out 1-N-1",
        fan_out(n - 2),
        "total",
        lambda: fan_out_by_hand(n - 2),
        n,
        args.repetitions,
    )
    measure("chain", chain(n), f"increment_{n - 2}", lambda: chain_by_hand(n), n, args.repetitions)


if __name__ == "__main__":
    main()
