"""`solidflow bench --executor ray` against the local Ray cluster."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from solidflow.benchmarks.suite.scales import SCALES
from solidflow.cli import main
from tests.e2e.test_bench import check_results

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.slow]


def test_bench_on_ray_compares_with_hand_written_ray(ray_address, tmp_path):
    out = tmp_path / "bench"
    args = ["bench", "--executor", "ray", "--address", ray_address, "--scale", "small"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = check_results(out, "ray")
    trivial = [r for r in document["results"] if r["workload"] == "trivial"]
    assert {r["baseline"] for r in trivial} == {"ray.remote"}
    repetitions = SCALES["small"].repetitions
    assert all(len(r["samples"]["plain_python"]) == repetitions for r in trivial)
    startup = {r["executor"]: r for r in document["results"] if r["workload"] == "startup"}
    assert set(startup) == {"in_process", "ray"}
    assert startup["ray"]["baseline"] == "ray.remote task start"
