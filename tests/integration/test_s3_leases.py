"""Instances on a store that several hosts share (S3): each host has its own instance (home);
gc on one host keeps what the live runs of another may read, runs memoize across hosts, and
a run without memoization replaces what is stored."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.engine.memo.gc import collect_garbage
from solidflow.engine.memo.store_leases import leases_of
from solidflow.engine.store import IntermediateStore

ORIGIN = {"run_id": "elsewhere", "step": "s", "output": "result"}


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def host(path: Path, s3_server: Any, root: str) -> Instance:
    """The instance of one host, whose store is `root` on the S3 server."""
    path.mkdir()
    settings = {"storage": {"root": root, "storage_options": s3_server.storage_options}}
    (path / "solidflow.yaml").write_text(yaml.safe_dump(settings))
    return Instance(path)


@pytest.fixture
def hosts(tmp_path: Path, s3_server: Any, s3_root: str) -> tuple[Instance, Instance]:
    return host(tmp_path / "a", s3_server, s3_root), host(tmp_path / "b", s3_server, s3_root)


@pytest.fixture
def store(s3_server: Any, s3_root: str):
    opened = IntermediateStore(s3_root, s3_server.storage_options)
    yield opened
    opened.close()


@solid
def numbers() -> list:
    return list(range(10))


@solid
def total(numbers: list) -> int:
    return sum(numbers)


@pipeline
def summed():
    total(numbers())


@solid
def from_source() -> str:
    return Path(os.environ["SOLIDFLOW_TEST_SOURCE"]).read_text()  # unseen by the memo key


@pipeline
def sourced():
    from_source()


def test_gc_on_one_host_keeps_what_a_live_run_of_another_host_leased(
    hosts: tuple[Instance, Instance], store: IntermediateStore
) -> None:
    here, there = hosts
    store.put(key("needed"), b"n" * 100_000, **ORIGIN)
    store.put(key("unused"), b"u" * 100_000, **ORIGIN)
    time.sleep(0.01)
    leases = leases_of(there, store)
    with leases.taking("run-of-b", [key("needed")]):
        pass  # the run goes on: its lease stays
    assert store.shared_objects("leases").names() == ["run-of-b.keys"]
    assert there.home.joinpath("leases").exists() is False  # not in either home
    report = collect_garbage(here, store, keep_last=0, include_latest=True)
    assert [stored.key for stored in report.deleted] == [key("unused")]
    assert (report.in_use, report.live_runs) == (1, ["run-of-b"])
    assert store.check([key("needed")])[key("needed")][0].value == "PRESENT"
    leases.release("run-of-b")
    report = collect_garbage(here, store, keep_last=0, include_latest=True)
    assert [stored.key for stored in report.deleted] == [key("needed")]


def test_a_run_taking_its_lease_waits_for_a_collection_that_is_deleting(
    hosts: tuple[Instance, Instance], store: IntermediateStore
) -> None:
    here, there = hosts
    collecting = leases_of(here, store)
    order: list[str] = []

    def take() -> None:
        with leases_of(there, store).taking("run-of-b", [key("x")]):
            order.append("run looked up")

    with collecting.held() as leased:
        assert leased == {}
        assert collecting.may_delete()
        run = threading.Thread(target=take)
        run.start()
        run.join(1.0)
        assert run.is_alive()  # its lease is put; it waits while the collection deletes
        order.append("collection done")
    run.join(10)
    assert order == ["collection done", "run looked up"]
    # The next collection reads the lease of the run.
    with collecting.held() as leased:
        assert leased == {"run-of-b": {key("x")}}


def test_a_pipeline_on_an_s3_instance_stores_memoizes_and_releases_its_lease(
    hosts: tuple[Instance, Instance], store: IntermediateStore
) -> None:
    here, there = hosts
    first = execute_pipeline(summed, instance=here, memoize=True)
    assert first.success and first.output_for("total") == 45
    stored = {record.step for record in store.list(run_id=first.run_id)}
    assert stored == {"numbers", "total"}
    again = execute_pipeline(summed, instance=there, memoize=True)  # the other host
    memoized = [
        event.step for event in there.events(again.run_id) if event.type.value == "STEP_MEMOIZED"
    ]
    assert sorted(memoized) == ["numbers", "total"]
    assert again.output_for("total") == 45
    assert store.shared_objects("leases").names() == []  # both runs released theirs
    assert not (here.home / "storage").exists() and not (there.home / "storage").exists()


def test_a_run_without_memoization_replaces_the_output_stored_on_s3(
    hosts: tuple[Instance, Instance],
    store: IntermediateStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here, there = hosts
    source = tmp_path / "source.txt"
    monkeypatch.setenv("SOLIDFLOW_TEST_SOURCE", str(source))
    source.write_text("one")
    first = execute_pipeline(sourced, instance=here)
    source.write_text("two")  # an outside change that the key does not see
    second = execute_pipeline(sourced, instance=there)
    assert (first.output_for("from_source"), second.output_for("from_source")) == ("one", "two")
    [stored] = store.list()
    assert (stored.run_id, store.get(stored.key)) == (second.run_id, "two")
    memoized = execute_pipeline(sourced, instance=here, memoize=True)
    assert [e.step for e in here.events(memoized.run_id) if e.type.value == "STEP_MEMOIZED"] == [
        "from_source"
    ]
    assert memoized.output_for("from_source") == "two"
