"""Memo keys of a 1,000-solid pipeline whose solids share a 200-function helper module.

Each solid calls two helpers; helpers call the next one in chains of `--chain` (so a solid
reaches up to twice that many helpers) and read module constants. Prints, as medians (with the
CPU time too: on shared cores it varies less than the elapsed time):
  - cold: the first key computation of a process that just imported the pipeline (each
    function's code is read once; measured in fresh processes),
  - warm: later computations in the same process (what a re-plan or a notebook re-run
    pays: fingerprints are cached per function object),
  - the same pipeline with `version=` on every solid (nothing but names, versions, config
    and inputs is hashed), measured in alternation with warm, and the ratio.

    python benchmarks/key_computation.py [--solids 1000] [--helpers 200] [--chain 10]
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELPERS = "key_bench_helpers"
PIPELINE = "key_bench_pipeline"


def write_modules(directory: Path, solids: int, helpers: int, chain: int, versions: bool) -> None:
    lines = ["RATE = 3", "LABELS = ('a', 'b', 'c')", ""]
    for i in range(helpers):
        nxt = f" + h{i + 1}(x)" if (i + 1) % chain and i + 1 < helpers else ""
        lines.append(f"def h{i}(x):\n    return x * RATE + len(LABELS) + {i}{nxt}\n")
    (directory / f"{HELPERS}.py").write_text("\n".join(lines))
    lines = [f"import {HELPERS} as helpers", "from solidflow import pipeline, solid", ""]
    for i in range(solids):
        version = f'version="{i}"' if versions else ""
        inputs = "x: int" if i else ""
        value = "x" if i else "1"
        first, second = (7 * i) % helpers, (7 * i + chain) % helpers
        lines.append(
            f"@solid({version})\ndef s{i}({inputs}) -> int:\n"
            f"    return helpers.h{first}({value}) + helpers.h{second}({value})\n"
        )
    lines.append("@pipeline\ndef bench():\n    value = s0()")
    lines += [f"    value = s{i}(value)" for i in range(1, solids)]
    (directory / f"{PIPELINE}.py").write_text("\n".join(lines) + "\n")


def _plan(directory: Path):
    from solidflow import Instance
    from solidflow.engine.run.prepare import prepare_run

    sys.path.insert(0, str(directory))
    for name in (HELPERS, PIPELINE):
        sys.modules.pop(name, None)
    module = importlib.import_module(PIPELINE)
    instance = Instance(directory / "home")
    return prepare_run(module.bench, None, None, None, "in_process", instance).plan


def _timed_keys(plan) -> tuple[float, float, dict]:
    """Seconds and CPU seconds that computing the plan's keys took, and the keys."""
    from solidflow.engine.memo.memoization import plan_keys

    start, cpu = time.perf_counter(), time.process_time()
    keys = plan_keys(plan, lambda step, message: None)
    return time.perf_counter() - start, time.process_time() - cpu, keys


def child(directory: Path) -> None:
    """In a fresh process: the cold computation."""
    plan = _plan(directory)
    cold, cpu, keys = _timed_keys(plan)
    lineages = [len(json.dumps(k.lineage)) for k in keys.values()]
    parts = [len(k.lineage["code"]) for k in keys.values()]
    print(json.dumps({"cold": cold, "cpu": cpu, "bytes": lineages, "parts": parts}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solids", type=int, default=1000)
    parser.add_argument("--helpers", type=int, default=200)
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as scanned, tempfile.TemporaryDirectory() as declared:
        write_modules(Path(scanned), args.solids, args.helpers, args.chain, versions=False)
        write_modules(Path(declared), args.solids, args.helpers, args.chain, versions=True)
        fresh = [
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--child", scanned],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(args.repetitions)
        ]
        plans = {"scanned": _plan(Path(scanned)), "declared": None}
        sys.path.remove(scanned)
        plans["declared"] = _plan(Path(declared))
        for plan in plans.values():
            _timed_keys(plan)  # warm-up
        samples: dict[str, list[float]] = {"scanned": [], "declared": []}
        cpus: dict[str, list[float]] = {"scanned": [], "declared": []}
        for _ in range(args.repetitions * 2):
            for name, plan in plans.items():
                seconds, cpu, _ = _timed_keys(plan)
                samples[name].append(seconds)
                cpus[name].append(cpu)
    cold = statistics.median(run["cold"] for run in fresh)
    cold_cpu = statistics.median(run["cpu"] for run in fresh)
    warm, warm_cpu = statistics.median(samples["scanned"]), statistics.median(cpus["scanned"])
    floor, floor_cpu = statistics.median(samples["declared"]), statistics.median(cpus["declared"])
    parts = statistics.median(p for run in fresh[:1] for p in run["parts"])
    size = statistics.median(b for run in fresh[:1] for b in run["bytes"])
    print(
        f"{args.solids} solids, {args.helpers} helpers in chains of {args.chain}: "
        f"a step's code has {parts:.0f} parts (median), its lineage {size:.0f} bytes as JSON"
    )
    print(f"cold (first plan of a process): {cold * 1000:.1f} ms ({cold_cpu * 1000:.1f} ms CPU)")
    print(
        f"warm (fingerprints cached per function): {warm * 1000:.1f} ms "
        f"({warm_cpu * 1000:.1f} ms CPU)"
    )
    print(
        f"every solid with version= (no code read): {floor * 1000:.1f} ms "
        f"({floor_cpu * 1000:.1f} ms CPU); warm / that: {warm / floor:.2f}x"
    )


if __name__ == "__main__":
    main()
