"""`solidflow bench --executor ray` against the local Ray cluster."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from solidflow.benchmarks.suite.scales import SCALES
from solidflow.benchmarks.suite.shapes import SHAPES
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
    ours = [r for r in trivial if r["executor"] == "ray"]
    repetitions = SCALES["small"].repetitions
    assert all(len(r["samples"]["plain_python"]) == repetitions for r in ours)
    largest = max(SCALES["small"].solids)
    old = {(r["case"], r["n"]) for r in trivial if r["executor"] == "ray_tasks"}
    assert old == {(shape, largest) for shape in SHAPES}  # the task executor, for comparison
    pools = [r for r in document["results"] if r["workload"] == "trivial_vs_actors"]
    assert {r["baseline"] for r in pools} == {"actor pool (2 actors)"}
    assert len(pools) == len(ours)
    startup = {r["executor"]: r for r in document["results"] if r["workload"] == "startup"}
    assert set(startup) == {"in_process", "ray"}
    assert startup["ray"]["baseline"] == "ray.remote task start"
