"""Garbage collection of the store: what it deletes, and what it always keeps."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.engine.instance.runs import RunRecord, RunStatus, current_process_token
from solidflow.engine.memo.gc import collect_garbage
from solidflow.engine.memo.leases import Leases
from solidflow.engine.store import IntermediateStore

ORIGIN = {"run_id": "elsewhere", "step": "s", "output": "result"}


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@solid
def one() -> int:
    return 1


@pipeline
def single():
    one()


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return Instance(tmp_path / "home")


@pytest.fixture
def store(instance: Instance):
    opened = IntermediateStore(instance.config.storage.root)
    yield opened
    opened.close()


class _StoredWhileListing(IntermediateStore):
    """A store in which another writer stores an output just as gc lists the store."""

    def list(self, run_id=None):
        writer = IntermediateStore(self.root)
        writer.put(key("late"), b"x" * 100_000, **ORIGIN)
        writer.close()
        return super().list(run_id)


def test_outputs_stored_after_gc_started_are_kept(instance: Instance) -> None:
    store = _StoredWhileListing(instance.config.storage.root)
    store.put(key("old"), b"y" * 100_000, **ORIGIN)
    report = collect_garbage(instance, store, keep_last=0, include_latest=True)
    assert [stored.key for stored in report.deleted] == [key("old")]
    assert store.check([key("late")])[key("late")][0].value == "PRESENT"
    store.close()


def test_gc_waits_for_a_run_taking_its_lease(instance: Instance, store) -> None:
    execute_pipeline(single, instance=instance)
    [run] = instance.runs()
    store.put(key("needed"), b"z" * 100_000, **ORIGIN)
    time.sleep(0.01)
    leases = Leases(instance)
    reports = []
    with leases.taking(run.run_id, [key("needed")]):
        collector = threading.Thread(
            target=lambda: reports.append(
                collect_garbage(instance, store, keep_last=0, include_latest=True)
            )
        )
        collector.start()
        collector.join(0.5)
        assert collector.is_alive()  # blocked while the run looks up its keys
        assert store.check([key("needed")])[key("needed")][0].value == "PRESENT"
    collector.join(10)
    # The run has ended, so its lease protects nothing: the output goes.
    [report] = reports
    assert key("needed") in [stored.key for stored in report.deleted]
    assert report.in_use == 0
    assert not (instance.home / "leases" / f"{run.run_id}.keys").exists()


def _live_run(instance: Instance) -> RunRecord:
    """A run of this process that has not ended: it is live."""
    run = RunRecord(
        run_id=uuid.uuid4().hex,
        pipeline_name="single",
        status=RunStatus.STARTED,
        create_time=time.time(),
        start_time=time.time(),
        heartbeat=time.time(),
        pid=os.getpid(),
        hostname=socket.gethostname(),
        process_start=current_process_token(),
    )
    instance.add_run(run)
    return run


def test_a_live_runs_lease_keeps_its_outputs(instance: Instance, store) -> None:
    store.put(key("needed"), b"z" * 100_000, **ORIGIN)
    store.put(key("unused"), b"z" * 100_000, **ORIGIN)
    time.sleep(0.01)
    run = _live_run(instance)
    with Leases(instance).taking(run.run_id, [key("needed")]):
        pass
    report = collect_garbage(instance, store, keep_last=0, include_latest=True, dry_run=True)
    assert [stored.key for stored in report.deleted] == [key("unused")]
    assert (report.in_use, report.live_runs) == (1, [run.run_id])
    report = collect_garbage(instance, store, keep_last=0, include_latest=True)
    assert [stored.key for stored in report.deleted] == [key("unused")]
    assert store.check([key("needed")])[key("needed")][0].value == "PRESENT"


def test_a_run_releases_its_lease_when_it_ends(instance: Instance) -> None:
    result = execute_pipeline(single, instance=instance)
    assert result.success
    assert list((instance.home / "leases").glob("*.keys")) == []


_WRITER = """
import os, signal, sys, time
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from solidflow.engine.store import IntermediateStore, records

root, key, how, gate = sys.argv[1:]
if how == "dataset":
    def produce(location):
        os.makedirs(location)
        pq.write_table(pa.table({"x": [1, 2]}), os.path.join(location, "part-0.parquet"))
        os.kill(os.getpid(), signal.SIGKILL)
    IntermediateStore(root).put_dataset(
        key, produce, python_type="pyspark.sql.DataFrame", run_id="r", step="s", output="o"
    )
write = records.HashingSink.write
total = 0
def pause_after_1_mb(self, data):
    global total
    total += write(self, data)
    if total > 2**20 and how == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if total > 2**20 and not os.path.exists(gate):
        print("paused", flush=True)
        while not os.path.exists(gate):
            time.sleep(0.02)
    return total
records.HashingSink.write = pause_after_1_mb
table = pa.table({f"c{i}": np.arange(125_000) for i in range(8)})
IntermediateStore(root).put(key, table, run_id="r", step="s", output="o")
print("stored", flush=True)
"""


def _temporaries(root: str) -> list[str]:
    return sorted(
        name for path in Path(root).glob("??") for name in os.listdir(path) if ".tmp" in name
    )


@pytest.mark.parametrize("how", ["killed", "dataset"])
def test_gc_removes_what_killed_writes_left(instance: Instance, store, how: str) -> None:
    root = instance.config.storage.root
    done = subprocess.run([sys.executable, "-c", _WRITER, root, key("k"), how, "-"])
    assert done.returncode == -signal.SIGKILL
    left = _temporaries(root)
    assert left and all(name.startswith(f".{key('k')}.") for name in left)
    time.sleep(0.05)
    dry = collect_garbage(instance, store, keep_last=0, include_latest=True, dry_run=True)
    assert _temporaries(root) == left
    report = collect_garbage(instance, store, keep_last=0, include_latest=True)
    assert _temporaries(root) == []
    assert [found.bytes for found in report.reclaimed] == [found.bytes for found in dry.reclaimed]
    assert sum(found.bytes for found in report.reclaimed) > (2**20 if how == "killed" else 100)


def test_gc_leaves_the_temporary_file_of_a_live_write(instance: Instance, store, tmp_path) -> None:
    root, gate = instance.config.storage.root, tmp_path / "gate"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, root, key("k"), "paused", str(gate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline() == "paused\n"
        time.sleep(0.05)  # older than the collection
        report = collect_garbage(instance, store, keep_last=0, include_latest=True)
        assert report.reclaimed == []
        assert len(_temporaries(root)) == 2  # its data and its sidecar
        gate.touch()
        assert writer.stdout.readline() == "stored\n"
    finally:
        gate.touch()
        writer.communicate(timeout=30)
    assert store.check([key("k")])[key("k")][0].value == "PRESENT"
    assert _temporaries(root) == []


def test_an_object_store_reclaims_temporary_files_by_age() -> None:
    store = IntermediateStore(f"memory://gc-tests/{uuid.uuid4().hex}")
    fs = store._backend.fs
    root = store.root.removeprefix("memory://")
    fs.pipe_file(f"{root}/ab/.{'ab' * 32}.0123.data.tmp", b"x" * 1000)
    stored = store.put(key("kept"), b"y" * 100_000, **ORIGIN)
    assert store.reclaim(before=time.time() - 60) == []  # too young: maybe a live write
    [reclaimed] = store.reclaim(before=time.time() + 1, dry_run=True)
    assert reclaimed.bytes == 1000 and reclaimed.path.endswith(".data.tmp")
    assert store.reclaim(before=time.time() + 1) == [reclaimed]
    assert store.reclaim(before=time.time() + 1) == []
    assert store.get(stored.key) == b"y" * 100_000
