"""`solidflow bench`: the suite's output files and their structure (not its timings)."""

from __future__ import annotations

import json
import statistics

import pytest
from click.testing import CliRunner

from solidflow.benchmarks.suite.scales import SCALES
from solidflow.benchmarks.suite.shapes import SHAPES
from solidflow.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_results(out, executor: str) -> dict:
    """The results.json in `out`, after checking its structure and the plots beside it."""
    document = json.loads((out / "results.json").read_text())
    scale = SCALES["small"]
    assert document["settings"]["scale"] == "small"
    assert document["settings"]["executor"] == executor
    assert document["machine"]["cores"] >= 1 and document["machine"]["python"]
    results = document["results"]
    trivial = {
        (r["case"], r["n"])
        for r in results
        if r["workload"] == "trivial" and r["executor"] == executor
    }
    assert trivial == {(shape, n) for shape in SHAPES for n in scale.solids}
    for result in results:
        assert len(result["samples"]["solidflow"]) == scale.repetitions
        assert all(seconds > 0 for seconds in result["samples"]["solidflow"])
        spread = result["solidflow_seconds"]
        assert spread["min"] <= spread["median"] <= spread["max"]
        if "baseline" in result:
            ratios = [
                a / b
                for a, b in zip(
                    result["samples"]["solidflow"], result["samples"]["baseline"], strict=True
                )
            ]
            assert statistics.median(ratios) == result["ratio"]["median"]
    memoization = {r["case"]: r for r in results if r["workload"] == "memoization"}
    assert set(memoization) == {"first run", "fully memoized", "one leaf changed"}
    assert memoization["fully memoized"]["baseline"] == "first run"
    planes = {r["case"].rsplit(" ", 1)[-1]: r for r in results if r["workload"] == "data_plane"}
    assert set(planes) == {"run", "step"}
    for data_plane in planes.values():
        assert data_plane["bytes"] == 5 * scale.table_mib * 2**20
        assert data_plane["solidflow_gb_per_s"] > 0
    assert planes["run"]["compute_seconds"] > 0 and "sync_seconds" in planes["run"]
    [events] = [r for r in results if r["workload"] == "event_log"]
    assert events["events"] > max(scale.solids) and events["raw_insert_events_per_s"] > 0
    for plot in ("per_solid_overhead.png", "data_plane.png"):
        data = (out / plot).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    return document


@pytest.mark.slow
def test_bench_in_process_writes_the_table_results_and_plots(tmp_path):
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        main, ["bench", "--executor", "in_process", "--scale", "small", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "solidflow bench: small scale, in_process executor" in result.output
    document = check_results(out, "in_process")
    startup = [r for r in document["results"] if r["workload"] == "startup"]
    assert [r["executor"] for r in startup] == ["in_process"]
    trivial = [r for r in document["results"] if r["workload"] == "trivial"]
    assert {r["baseline"] for r in trivial} == {"plain Python"}
    assert {r["executor"] for r in trivial} == {"in_process"}


def test_bench_rejects_an_address_without_ray():
    result = CliRunner().invoke(main, ["bench", "--executor", "in_process", "--address", "x:1"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --address is for --executor ray"
