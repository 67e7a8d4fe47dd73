"""Spark solids whose store is on S3. Spark's distribution has no S3A filesystem (hadoop-aws
is not on its classpath, and no registry here ships one matching its Hadoop), so DataFrame
outputs are collected and written through the store, with a warning that says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from solidflow import Instance, execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore
from tests.integration import spark_pipelines as pipelines
from tests.integration.events import events_of
from tests.integration.test_spark import _classic

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.spark, pytest.mark.slow]


def test_spark_outputs_go_to_an_s3_store_through_the_store_when_spark_lacks_s3a(
    spark_cluster: Any, s3_server: Any, s3_root: str, tmp_path: Path, monkeypatch: Any
) -> None:
    for name, value in s3_server.environment.items():  # credentials as AWS clients take them
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(yaml.safe_dump({"storage": {"root": s3_root}}))
    instance = Instance(home)
    config = _classic(spark_cluster)

    result = execute_pipeline(pipelines.mixed, config, instance=instance)
    assert result.success, [e.payload for e in events_of(result, EventType.STEP_FAILURE)]
    assert result.output_for("report") == pipelines.expected_sums()
    [output] = events_of(result, EventType.STEP_OUTPUT, "sum_by_key")
    assert (output.payload["serializer"], output.payload["written_by"]) == ("parquet", "store")
    assert output.payload["rows"] == pipelines.KEYS
    warnings = [e.payload["message"] for e in events_of(result, EventType.LOG, "sum_by_key")]
    assert any(
        "Spark has no filesystem for s3a:// URLs (put hadoop-aws" in message
        and "written through the store instead" in message
        for message in warnings
    ), warnings
    stored = result.output_for("top_keys")
    assert stored.location.startswith(s3_root)
    assert sorted(stored.to_arrow().column("key").to_pylist()) == list(range(pipelines.KEYS))
    assert IntermediateStore(s3_root).verify(stored.key)[0].value == "PRESENT"
    assert not (home / "storage").exists()

    again = execute_pipeline(pipelines.mixed, config, instance=instance, memoize=True)
    assert events_of(again, EventType.STEP_SUCCESS) == []
    child = reexecute_pipeline(
        result.run_id, solid_selection=["top_keys"], run_config=config, instance=instance
    )
    assert child.success, [e.payload for e in events_of(child, EventType.STEP_FAILURE)]
    table = child.output_for("top_keys").to_arrow().sort_by("key")  # Spark read it by Arrow
    assert table.column("total").to_pylist() == [
        pipelines.expected_sums()[key] for key in range(pipelines.KEYS)
    ]
