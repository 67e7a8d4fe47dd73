"""Bytes-like outputs are stored from their own memory and loaded with one buffer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from solidflow.engine.store import IntermediateStore

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "store_memory.py"
ORIGIN = {"run_id": "run-1", "step": "make", "output": "result"}


def test_peak_memory_stays_near_the_value_size() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--size-mib", "128"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = re.findall(r"(\w+) +put ([0-9.]+)x +get ([0-9.]+)x", done.stdout)
    assert [kind for kind, _, _ in found] == ["bytes", "bytearray", "memoryview"], done.stdout
    for kind, put, get in found:
        # The value itself is 1x; a copy anywhere would make 2x or more.
        assert float(put) < 1.25, f"put of {kind}: {put}x"
        assert float(get) < 1.25, f"get of {kind}: {get}x"


def test_a_loaded_bytearray_is_writable_and_a_memoryview_is_not(tmp_path: Path) -> None:
    store = IntermediateStore(tmp_path)
    store.put("aa" * 32, bytearray(b"x" * 100_000), **ORIGIN)
    store.put("bb" * 32, memoryview(np.arange(4, dtype=np.int32)), **ORIGIN)
    loaded = store.get("aa" * 32)
    loaded[0] = ord("y")
    assert store.get("aa" * 32)[0] == ord("x")
    view = store.get("bb" * 32)
    assert view.readonly and view.format == "B"  # its bytes, whatever its format was
    assert view.tobytes() == np.arange(4, dtype=np.int32).tobytes()
