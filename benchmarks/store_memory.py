"""Peak memory of storing and loading a large bytes-like output, against the value's size.

Run with `python benchmarks/store_memory.py [--size-mib 1536]`. For bytes, bytearray and
memoryview values, a fresh process creates the value and puts it into a store in a temporary
directory, and another fresh process gets it back; each reports its peak resident memory
(VmHWM) above what it held before the value existed, as a multiple of the value's size.
Creating (or holding) the value itself is 1.00x.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

KINDS = ("bytes", "bytearray", "memoryview")


def _resident(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(root: str, operation: str, kind: str, size: int) -> None:
    from solidflow.engine.store import IntermediateStore

    key = hashlib.sha256(kind.encode()).hexdigest()
    store = IntermediateStore(root)
    store.check([key])  # open the store before the baseline
    baseline = _resident("VmRSS")
    if operation == "put":
        make = {
            "bytes": lambda: b"\x01" * size,
            "bytearray": lambda: bytearray(b"\x01") * size,
            "memoryview": lambda: memoryview(b"\x01" * size),
        }
        store.put(key, make[kind](), run_id="bench", step="step", output="result")
    else:
        loaded = store.get(key)
        assert type(loaded).__name__ == kind and len(loaded) == size
    store.close()
    print((_resident("VmHWM") - baseline) / size)


def peak(root: str, operation: str, kind: str, size: int) -> float:
    """The peak memory of `operation` in a fresh process, as a multiple of `size`."""
    command = [sys.executable, __file__, "--child", root, operation, kind, str(size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        root, operation, kind, size = sys.argv[2:]
        _child(root, operation, kind, int(size))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=1536, help="value size (MiB)")
    args = parser.parse_args()
    size = args.size_mib * 2**20
    print(f"peak resident memory above the process's own, a {args.size_mib:,} MiB value = 1.00x")
    with tempfile.TemporaryDirectory() as directory:
        for kind in KINDS:
            root = os.path.join(directory, kind)
            put = peak(root, "put", kind, size)  # the value itself: 1.00x
            get = peak(root, "get", kind, size)
            print(f"    {kind:<10} put {put:.2f}x   get {get:.2f}x")


if __name__ == "__main__":
    main()
