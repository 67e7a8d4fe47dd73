"""The store on a real S3-compatible server (moto's): commits by conditional puts, readers
that never see a partial output, racing writers of one key, and what killed writes leave.
The guarantees it shares with the other stores are tested in tests/unit/test_store.py."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
import time
import traceback
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import s3fs

from solidflow.engine.store import IntermediateStore, OutputStatus

ORIGIN = {"run_id": "run-1", "step": "make", "output": "result"}
PRESENT, MISSING = OutputStatus.PRESENT, OutputStatus.MISSING


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def objects(server: Any, root: str) -> list[str]:
    """The names of every object under `root`, relative to it."""
    fs = s3fs.S3FileSystem(**server.storage_options, skip_instance_cache=True)
    prefix = root.removeprefix("s3://")
    return sorted(path.removeprefix(prefix + "/") for path in fs.find(prefix))


@pytest.fixture
def store(s3_server: Any, s3_root: str):
    opened = IntermediateStore(s3_root, s3_server.storage_options)
    yield opened
    opened.close()


def test_an_s3_root_uses_the_s3_backend_and_names_its_data_in_the_sidecar(
    store: IntermediateStore, s3_server: Any
) -> None:
    assert store.backend == "s3"
    assert store.writes_guarded
    stored = store.put(key("t"), pa.table({"a": [1, 2]}), **ORIGIN)
    directory = key("t")[:2]
    data = stored.location.rsplit("/", 1)[-1]
    assert data.startswith(f"{key('t')}.") and data.endswith(".arrow")
    assert objects(s3_server, store.root) == sorted(
        [f"{directory}/{data}", f"{directory}/{key('t')}.meta"]
    )


def _put_racing(root: str, options: dict[str, Any], worker: int, barrier: Any, queue: Any) -> None:
    try:
        store = IntermediateStore(root, options)
        value = pa.table({"worker": np.full(300_000, worker)})
        barrier.wait()
        stored = store.put(
            key("shared"), value, run_id=f"run-{worker}", step="s", output="o", known_missing=True
        )
        queue.put(stored.run_id)
    except BaseException:
        queue.put(traceback.format_exc())


def test_writers_racing_on_one_key_leave_one_valid_output_and_no_orphan(
    store: IntermediateStore, s3_server: Any
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(3), context.Queue()
    workers = [
        context.Process(
            target=_put_racing, args=(store.root, s3_server.storage_options, n, barrier, queue)
        )
        for n in range(3)
    ]
    for worker in workers:
        worker.start()
    returned = {queue.get(timeout=300) for _ in workers}
    for worker in workers:
        worker.join(60)
    stored = store.info(key("shared"))
    assert stored is not None
    assert returned == {stored.run_id}  # every writer was given the output that won
    winner = int(stored.run_id.removeprefix("run-"))
    assert store.get(key("shared")).column("worker").unique().to_pylist() == [winner]
    assert store.verify(key("shared")) == (PRESENT, None)
    assert len(objects(s3_server, store.root)) == 2  # the sidecar and the winner's data


def test_a_reader_never_sees_an_output_being_written(store: IntermediateStore) -> None:
    table = pa.table({"x": np.arange(3_000_000, dtype=np.int64)})
    seen: list[Any] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            status, reason = store.check([key("big")])[key("big")]
            seen.append((status, reason))
            if status is PRESENT:
                seen.append(store.get(key("big")).num_rows)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        time.sleep(0.05)
        store.put(key("big"), table, **ORIGIN)
        time.sleep(0.3)
    finally:
        done.set()
        reader.join()
    statuses = [entry for entry in seen if isinstance(entry, tuple)]
    assert {status for status, _ in statuses} <= {PRESENT, MISSING}
    assert statuses[0] == (MISSING, "no sidecar")
    assert (PRESENT, None) in statuses
    assert {entry for entry in seen if isinstance(entry, int)} == {table.num_rows}


def test_writers_replacing_a_damaged_output_leave_one_valid_output(
    store: IntermediateStore, s3_server: Any
) -> None:
    stored = store.put(key("t"), pa.table({"a": np.arange(1000)}), **ORIGIN)
    fs = s3fs.S3FileSystem(**s3_server.storage_options, skip_instance_cache=True)
    fs.pipe_file(stored.location, b"damaged")
    assert store.check([key("t")])[key("t")][0] is OutputStatus.CORRUPT
    writers = [IntermediateStore(store.root, s3_server.storage_options) for _ in range(3)]
    barrier = threading.Barrier(3)
    results: list[Any] = []

    def replace(n: int) -> None:
        barrier.wait()
        value = pa.table({"a": np.full(1000, n)})
        results.append(writers[n].put(key("t"), value, run_id=f"run-{n}", step="s", output="o"))

    threads = [threading.Thread(target=replace, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.info(key("t"))
    assert final is not None and {record.run_id for record in results} == {final.run_id}
    assert store.verify(key("t")) == (PRESENT, None)
    assert len(objects(s3_server, store.root)) == 2  # the damaged data went with its sidecar


def test_reclaim_removes_data_that_no_sidecar_names_once_it_is_old(
    store: IntermediateStore, s3_server: Any
) -> None:
    from solidflow.engine.store.serialization import encode

    kept = store.put(key("kept"), b"k" * 100_000, **ORIGIN)
    orphan = store.stage(key("killed"), encode(b"o" * 100_000), **ORIGIN)  # never published
    assert store.check([key("killed")])[key("killed")] == (MISSING, "no sidecar")
    assert store.reclaim(before=time.time() - 3600) == []  # younger than `before`
    time.sleep(1.1)  # S3 times are whole seconds
    reclaimed = store.reclaim(before=time.time(), dry_run=True)
    assert [item.path for item in reclaimed] == [orphan.record.location]
    assert reclaimed[0].bytes == 100_000
    assert len(objects(s3_server, store.root)) == 3
    store.reclaim(before=time.time())
    names = objects(s3_server, store.root)
    assert names == sorted(
        [kept.location.removeprefix(store.root + "/"), f"{key('kept')[:2]}/{key('kept')}.meta"]
    )
    assert store.get(key("kept")) == b"k" * 100_000


def test_delete_removes_every_data_object_of_the_key(
    store: IntermediateStore, s3_server: Any
) -> None:
    from solidflow.engine.store.serialization import encode

    stored = store.put(key("t"), b"x" * 100_000, **ORIGIN)
    store.stage(key("t"), encode(b"y" * 50_000), **ORIGIN)  # a write that never committed
    other = store.put(key("u"), b"u", **ORIGIN)
    assert store.delete(key("t"), dry_run=True) > stored.bytes + 50_000
    freed = store.delete(key("t"))
    assert freed > stored.bytes + 50_000
    assert store.check([key("t")])[key("t")] == (MISSING, "no sidecar")
    assert objects(s3_server, store.root) == sorted(
        [other.location.removeprefix(store.root + "/"), f"{key('u')[:2]}/{key('u')}.meta"]
    )


def test_a_replacing_put_takes_the_place_of_the_stored_output(
    store: IntermediateStore, s3_server: Any
) -> None:
    from solidflow.engine.store.write_behind import OutputWriter

    old = store.put(key("t"), pa.table({"a": np.arange(1000)}), **ORIGIN)
    kept = store.put(key("t"), b"new", run_id="run-2", step="s", output="o")
    assert kept == old  # without replace, the stored output is kept
    new = store.put(key("t"), b"new" * 30_000, run_id="run-2", step="s", output="o", replace=True)
    assert store.info(key("t")) == new and store.get(key("t")) == b"new" * 30_000
    names = objects(s3_server, store.root)
    assert names == sorted(
        [new.location.removeprefix(store.root + "/"), f"{key('t')[:2]}/{key('t')}.meta"]
    )  # the replaced data object is gone
    writer = OutputWriter(store, "run")
    writer.put(key("t"), b"staged", run_id="run-3", step="s", output="o", replace=True)
    assert store.get(key("t")) == b"new" * 30_000  # not before the commit
    assert writer.commit() == []
    assert store.get(key("t")) == b"staged" and store.info(key("t")).run_id == "run-3"
    assert len(objects(s3_server, store.root)) == 2
