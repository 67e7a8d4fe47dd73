"""The benchmark scripts run and print their figures (timings themselves are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _printed(script: str, *args: str, cwd: Path) -> list[str]:
    """The lines a benchmark script prints."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return done.stdout.splitlines()


def test_in_process_overhead_benchmark_prints_both_workloads(tmp_path):
    lines = _printed("in_process_overhead.py", "--solids", "40", "--repetitions", "1", cwd=tmp_path)
    rows = [line for line in lines if "solids/s" in line]
    assert [row.split()[0] for row in rows] == ["fan-out", "chain"]
    for row in rows:
        assert re.search(r"\b40 solids\b", row)
        assert re.search(r"overhead -?\d+\.\d+ ms/solid", row)
        # start, input check, output check and success per solid (the source has no input),
        # plus the run's start and end
        assert f"{4 * 40 + 1} events/run" in row


def test_store_throughput_benchmark_prints_the_three_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "store_throughput.py"), "--size-mib", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    number = r"[0-9][0-9.,]*"
    for pattern in (
        rf"store\.put {number} GB/s, raw ipc write {number} GB/s, ratio {number}",
        rf"store\.get {number} ms, raw memory-mapped read_all {number} ms, ratio {number}",
        rf"store {number} µs per output, no store \(dict\) {number} µs per output",
    ):
        assert re.search(pattern, result.stdout), result.stdout


def test_run_queue_benchmark_prints_the_daemon_and_the_hand_written_pool(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_queue.py"), "--runs", "3", "--concurrency", "2"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    rows = [line for line in done.stdout.splitlines() if "runs/min" in line]
    assert [row.split()[0] for row in rows] == ["daemon", "hand-written"]
    assert all(re.search(r"launch delay median +\d+\.\d ms", row) for row in rows)


def test_sweep_benchmark_prints_the_sweep_against_one_run(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "sweep.py"), "--points", "2"]
    done = subprocess.run(
        [*command, "--upstream", "0.5", "--part", "0.1"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert "upstream computed by 1 run(s)" in done.stdout
    assert re.search(r"sweep, memoized +\d+\.\d s", done.stdout)


def test_key_computation_benchmark_prints_cold_warm_and_declared_versions(tmp_path):
    arguments = ("--solids", "50", "--helpers", "20", "--chain", "5", "--repetitions", "1")
    lines = _printed("key_computation.py", *arguments, cwd=tmp_path)
    assert lines[0].startswith("50 solids, 20 helpers in chains of 5: a step's code has ")
    assert re.fullmatch(r"cold \(first plan of a process\): [\d.]+ ms \([\d.]+ ms CPU\)", lines[1])
    assert re.fullmatch(
        r"warm \(fingerprints cached per function\): [\d.]+ ms \([\d.]+ ms CPU\)", lines[2]
    )
    assert re.search(r"warm / that: \d+\.\d\dx$", lines[3])
