from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from solidflow.engine.store import IntermediateStore, OutputStatus

OUTPUTS_PER_PROCESS = 200
SHARED = OUTPUTS_PER_PROCESS // 2


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def value_for(name: str, i: int) -> Any:
    """A value of one of the stored kinds: packed msgpack and pickle, .bin files, Arrow
    files both checksummed whole and sampled."""
    kind = i % 5
    if kind == 0:
        return {"name": name, "i": i}
    if kind == 1:
        return (name, i)
    if kind == 2:
        return name.encode() * 10_000
    if kind == 3:
        return np.full(1_000, i, dtype=np.int64)
    rows = 700_000 if i % 25 == 4 else 1_000
    return pa.table({"i": np.arange(rows) + i, "name": [name] * rows})


def names(worker: int) -> list[str]:
    """Worker `worker`'s outputs: the shared ones, interleaved with its own."""
    shared = [f"shared-{i}" for i in range(SHARED)]
    own = [f"own-{worker}-{i}" for i in range(OUTPUTS_PER_PROCESS - SHARED)]
    return [name for pair in zip(shared, own, strict=True) for name in pair]


def _put_all(root: str, worker: int, barrier: Any) -> None:
    store = IntermediateStore(root)
    barrier.wait()
    for i, name in enumerate(names(worker)):
        store.put(key(name), value_for(name, i), run_id=f"run-{worker}", step="s", output=name)
        if i % 40 == 39:
            store.flush()
    store.close()


def assert_equal(loaded: Any, value: Any) -> None:
    assert type(loaded) is type(value)
    if isinstance(value, pa.Table):
        assert loaded.equals(value)
    elif isinstance(value, np.ndarray):
        assert np.array_equal(loaded, value)
    else:
        assert loaded == value


def test_two_processes_putting_shared_and_own_keys(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_put_all, args=(root, n, barrier)) for n in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    expected = {
        key(name): value_for(name, i) for worker in (0, 1) for i, name in enumerate(names(worker))
    }
    assert len(expected) == 2 * OUTPUTS_PER_PROCESS - SHARED
    store = IntermediateStore(root)
    statuses = store.check(list(expected))
    assert {status for status, _ in statuses.values()} == {OutputStatus.PRESENT}
    for output_key, value in expected.items():
        assert_equal(store.get(output_key), value)
        assert store.verify(output_key) == (OutputStatus.PRESENT, None)
    assert sorted(record.key for record in store.list()) == sorted(expected)
    leftovers = [name for _, _, files in os.walk(root) for name in files if name.endswith(".tmp")]
    assert leftovers == []
    store.close()
