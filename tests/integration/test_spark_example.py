"""examples/spark_sales.py on Spark in local mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow.compute as pc
import pytest

from solidflow import Instance, execute_pipeline
from solidflow.engine.events.records import EventType
from tests.integration.spark_pipelines import LOCAL_CONF

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.spark, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spark_sales.py"


def test_the_spark_sales_example_ranks_the_regions_spark_aggregated(tmp_path):
    spec = importlib.util.spec_from_file_location("spark_sales_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    config = {
        "solids": {"generate_sales": {"config": {"rows": 20_000}}},
        "resources": {
            "spark": {
                "config": {
                    "master": "local[1]",
                    "conf": {
                        **LOCAL_CONF,
                        "spark.ui.enabled": False,
                    },
                }
            }
        },
    }
    result = execute_pipeline(example.spark_sales, config, instance=Instance(tmp_path / "home"))
    assert result.success, [e.payload for e in result.events if e.type is EventType.STEP_FAILURE]

    sales = result.output_for("generate_sales").to_arrow()
    assert sales.num_rows == 20_000
    expected = sales.group_by("region").aggregate([("amount", "sum"), ("amount", "count")])
    expected = dict(
        zip(expected["region"].to_pylist(), expected["amount_count"].to_pylist(), strict=True)
    )
    ranked = result.output_for("rank_regions")
    counts = zip(ranked["region"].to_pylist(), ranked["sales_sum"].to_pylist(), strict=True)
    assert dict(counts) == expected
    revenue = ranked["revenue_sum"].to_pylist()
    assert revenue == sorted(revenue, reverse=True)
    assert sum(revenue) == pytest.approx(pc.sum(sales["amount"]).as_py(), abs=1.0)
    [materialization] = result.result_for("rank_regions").materializations
    assert materialization.metadata["best_region"] == ranked["region"][0].as_py()
