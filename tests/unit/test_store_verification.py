"""Damage anywhere in a stored output is never served, while a file verified before reloads
memory-mapped without being read in full."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore, OutputCorrupt, OutputStatus
from solidflow.engine.store import output_files as local_store
from solidflow.engine.store.records import sample_ranges
from solidflow.engine.store.verified import marker_path

ORIGIN = {"run_id": "run-1", "step": "make", "output": "result"}
OFFSET = 200_000  # between the first two sampled blocks of a 20 MB file


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def table_of(megabytes: int) -> pa.Table:
    return pa.table({"x": np.arange(megabytes * 1_000_000 // 8, dtype=np.int64)})


def flip(path: str, offset: int = OFFSET, count: int = 8) -> None:
    with open(path, "r+b") as file:
        file.seek(offset)
        data = file.read(count)
        file.seek(offset)
        file.write(bytes(byte ^ 0xFF for byte in data))


def test_the_offset_is_outside_the_sampled_blocks() -> None:
    size = 20_000_000
    assert all(not (start <= OFFSET + 8 and start + n > OFFSET) for start, n in sample_ranges(size))


def test_bytes_flipped_outside_the_samples_are_never_served(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path)
    stored = store.put(key("t"), table_of(20), **ORIGIN)
    assert stored.bytes > 19_000_000
    flip(stored.location)
    assert store.check([key("t")]) == {
        key("t"): (OutputStatus.CORRUPT, "full checksum differs from the sidecar's")
    }
    with pytest.raises(OutputCorrupt, match=key("t")):
        store.get(key("t"))
    # Recomputed, the output is served again.
    store.put(key("t"), table_of(20), **ORIGIN)
    assert store.get(key("t")).equals(table_of(20))


def test_a_verified_file_reloads_without_a_full_read(tmp_path: Path, monkeypatch) -> None:
    store = IntermediateStore(tmp_path)
    stored = store.put(key("t"), table_of(20), **ORIGIN)
    assert os.path.exists(marker_path(stored.location))  # written as it was hashed

    def no_full_read(data):
        raise AssertionError("a verified file was read in full")

    monkeypatch.setattr(local_store, "full_checksum", no_full_read)
    assert store.get(key("t")).equals(table_of(20))
    assert store.check([key("t")])[key("t")][0] is OutputStatus.PRESENT


def test_a_copied_file_is_verified_once_again(tmp_path: Path, monkeypatch) -> None:
    store = IntermediateStore(tmp_path)
    stored = store.put(key("t"), table_of(20), **ORIGIN)
    # A copy put in place (a restored backup) has another inode: the marker does not vouch.
    shutil.copyfile(stored.location, f"{stored.location}.copy")
    os.replace(f"{stored.location}.copy", stored.location)
    hashed = []
    full = local_store.full_checksum
    monkeypatch.setattr(local_store, "full_checksum", lambda data: hashed.append(1) or full(data))
    assert store.get(key("t")).equals(table_of(20))
    assert store.get(key("t")).equals(table_of(20))
    assert hashed == [1]


def test_an_object_store_checks_the_whole_output_it_reads() -> None:
    store = IntermediateStore(f"memory://verification-tests/{uuid.uuid4().hex}")
    stored = store.put(key("t"), table_of(20), **ORIGIN)
    fs = store._backend.fs
    path = stored.location.removeprefix("memory://")
    data = bytearray(fs.cat_file(path))
    data[OFFSET] ^= 0xFF
    fs.pipe_file(path, bytes(data))
    # Only samples are read to check it, so the check passes; loading reads it all.
    assert store.check([key("t")])[key("t")][0] is OutputStatus.PRESENT
    with pytest.raises(OutputCorrupt, match="the damaged output was deleted"):
        store.get(key("t"))
    assert store.check([key("t")])[key("t")][0] is OutputStatus.MISSING


class Rows(Config):
    rows: int = 2_500_000


def test_a_memoized_run_recomputes_damage_outside_the_samples(tmp_path: Path) -> None:
    @solid
    def big(config: Rows) -> pa.Table:
        return pa.table({"x": np.arange(config.rows, dtype=np.int64)})

    @solid
    def total(table: pa.Table) -> int:
        return int(pa.compute.sum(table["x"]).as_py())

    @pipeline
    def summed():
        total(big())

    instance = Instance(tmp_path)
    first = execute_pipeline(summed, instance=instance, memoize=True)
    big_key = next(e.payload["key"] for e in first.events if e.step == "big" and "key" in e.payload)
    [data] = list(Path(instance.config.storage.root).rglob(f"{big_key}.arrow"))
    flip(str(data))
    second = execute_pipeline(summed, instance=instance, memoize=True)
    assert second.success
    ran = {e.step for e in second.events if e.type is EventType.STEP_SUCCESS}
    assert ran == {"big"}  # recomputed under the same key: `total` stays memoized
    [warning] = [e for e in second.events if e.type is EventType.LOG]
    assert "full checksum differs" in warning.message
    assert second.output_for("big").equals(pa.table({"x": np.arange(2_500_000)}))


def test_the_verification_benchmark_prints_every_design() -> None:
    script = Path(__file__).parents[2] / "benchmarks" / "store_verification.py"
    done = subprocess.run(
        [sys.executable, str(script), "--size-mib", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.rstrip().endswith(" ms)")]
    assert len(lines) == 9, done.stdout
    assert any(line.split()[:4] == ["reload,", "verified", "before", "(marker)"] for line in lines)
