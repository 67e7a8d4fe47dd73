"""A Ray cluster whose nodes share no disk (each works in a directory of its own) and share
the store through S3: steps pinned to different nodes hand outputs on through it, runs
memoize and re-execute from it, and no process stores an output under a local path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from solidflow import Instance, execute_pipeline, reexecute_pipeline
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore
from tests.integration import s3_node_pipelines as pipelines
from tests.integration.events import events_of

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.slow]


def test_nodes_without_a_shared_disk_share_outputs_through_s3(
    ray_address: str, s3_server: Any, s3_root: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = {"storage": {"root": s3_root, "storage_options": s3_server.storage_options}}
    (home / "solidflow.yaml").write_text(yaml.safe_dump(settings))
    instance = Instance(home)
    run_config = {"execution": {"ray": {"address": ray_address}}}

    first = execute_pipeline(pipelines.across_nodes, run_config, instance=instance)
    assert first.success, [e.message for e in events_of(first, EventType.STEP_FAILURE)]
    on_b, on_a = first.output_for("read_on_b"), first.output_for("read_on_a")
    assert on_b["node"] != on_a["node"]
    assert len({on_b["from"], on_b["cwd"]}) == 2  # the nodes work in directories of their own
    assert on_b["from"] == on_a["cwd"]
    assert on_b["rows"] == on_a["rows"] == 200_000
    store = IntermediateStore(s3_root, s3_server.storage_options)
    stored = {record.step for record in store.list(run_id=first.run_id)}
    assert stored == {"made_on_a", "read_on_b", "read_on_a"}

    again = execute_pipeline(pipelines.across_nodes, run_config, instance=instance, memoize=True)
    assert sorted(e.step for e in events_of(again, EventType.STEP_MEMOIZED)) == sorted(stored)
    assert again.output_for("read_on_a") == on_a

    child = reexecute_pipeline(
        first.run_id, solid_selection="read_on_b", executor="ray", instance=instance
    )
    assert [e.step for e in events_of(child, EventType.STEP_SUCCESS)] == ["read_on_b"]
    assert child.output_for("read_on_b")["rows"] == 200_000  # node_b read node_a's from S3

    # No process stored anything on a local disk: not the driver, not the nodes.
    assert not (home / "storage").exists() and not (home / "leases").exists()
    for node_directory in (on_a["cwd"], on_b["cwd"]):
        assert os.listdir(node_directory) == []
    assert store.shared_objects("leases").names() == []
