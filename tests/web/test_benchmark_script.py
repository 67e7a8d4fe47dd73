"""The UI benchmark runs and prints its figures (timings themselves are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "web_ui.py"


def test_the_web_ui_benchmark_prints_server_times_lag_and_memory(tmp_path: Path) -> None:
    arguments = ["--solids", "20", "--runs", "2", "--repetitions", "2", "--rate", "200"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments, "--seconds", "1.5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "2 runs of a 20-solid pipeline in the log (81 events per run)" in out
    assert re.search(r"runs page \(GET /api/runs\) +server +\d+\.\d ms", out)
    assert re.search(r"run page \(the run, its pipeline, 81 events\) +server +\d+\.\d ms", out)
    shown = re.search(r"\((\d+) events; the page shows '(\d+) of (\d+) events'\)", out)
    assert shown and shown[1] == shown[2] == shown[3]
    assert re.search(r"newest row behind the clock: median \d+\.\d\d s", out)
    assert re.search(r"JS heap max \d+ MiB, renderer private memory max \d+ MiB", out)
