"""Storing a process's step outputs for one run, as the run's durability setting says: behind
the computation (`run`, `none`), or at once (`step`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from solidflow.engine.store.datasets import Produce
from solidflow.engine.store.records import Staged, StoredOutput
from solidflow.engine.store.serialization import Encoded, encode
from solidflow.engine.store.store import IntermediateStore, OutputOrigin

DURABILITIES = ("run", "step", "none")
"""`run`: outputs are written behind the computation and synced once, when the run commits
them; `step`: each output is synced and committed as its step ends; `none`: as `run`, without
syncing."""

WRITTEN_AT_ONCE = 64 * 1024
"""Encoded outputs up to this size are staged by `put` itself (a packed output stays in
memory until the commit); larger ones by the writer thread."""

_WRITERS: dict[int, ThreadPoolExecutor] = {}
_WRITERS_LOCK = threading.Lock()


def _writer() -> ThreadPoolExecutor:
    """This process's thread that writes outputs behind the computation."""
    with _WRITERS_LOCK:
        pool = _WRITERS.get(os.getpid())
        if pool is None:
            pool = _WRITERS[os.getpid()] = ThreadPoolExecutor(1, "solidflow-write-behind")
        return pool


@dataclass(frozen=True, slots=True)
class Pending:
    """What is known of an output being written behind: what its STEP_OUTPUT event says."""

    key: str
    serializer: str
    bytes: int


class OutputWriter:
    """Stores the outputs of one run's steps in one process (what the step runner calls `put`
    on), and commits them.

    With `run` or `none` durability, a file output is handed to a writer thread and `put`
    returns at once; small outputs are kept in memory. Nothing is visible to other processes
    before `commit`, which waits for the writes, syncs them once (`run`) and publishes them.
    With `step`, `put` stores and syncs as IntermediateStore.put does, and `end_batch`
    commits small outputs. The stored form of each output is kept until `take_encoded`, so
    that the process can send the value on without encoding it again.
    """

    def __init__(self, store: IntermediateStore, durability: str = "run") -> None:
        self.store = store
        self.durability = durability
        self._encoded: dict[str, Encoded] = {}
        self._staged: list[Staged] = []
        self._writing: list[tuple[str, Future[Staged]]] = []
        self._lock = threading.Lock()  # commit may come from another thread than put

    def put(
        self,
        key: str,
        value: Any,
        *,
        run_id: str,
        step: str,
        output: str,
        lineage: Mapping[str, Any] | None = None,
        known_missing: bool = False,
        replace: bool = False,
    ) -> StoredOutput | Pending:
        """Store `value` under `key` (see IntermediateStore.put), now or behind; with
        `replace`, in place of the output stored under `key` when the run commits."""
        encoded = self._encoded[key] = encode(value)
        where = OutputOrigin(run_id=run_id, step=step, output=output, lineage=lineage)
        if self.durability == "step":
            return self.store.put_encoded(
                key, encoded, **where, known_missing=known_missing, replace=replace
            )
        if not (replace or (known_missing and self.store.writes_guarded)):
            existing = self.store.info(key)
            if existing is not None:
                return existing
        if encoded.payload is not None and len(encoded.payload) <= WRITTEN_AT_ONCE:
            staged = self.store.stage(key, encoded, **where, replace=replace)
            with self._lock:
                self._staged.append(staged)
            return staged.record  # type: ignore[return-value]
        writing = _writer().submit(self.store.stage, key, encoded, **where, replace=replace)
        with self._lock:
            self._writing.append((key, writing))
        return Pending(key=key, serializer=encoded.serializer, bytes=encoded.size())

    def put_dataset(self, key: str, produce: Produce, **where: Any) -> StoredOutput:
        """Store a Parquet dataset at once; see IntermediateStore.put_dataset."""
        return self.store.put_dataset(key, produce, **where)

    def write_table(self, location: str, table: Any) -> None:
        """Write a table into a dataset directory; see IntermediateStore.write_table."""
        self.store.write_table(location, table)

    def take_encoded(self, key: str) -> Encoded | None:
        """The stored form of the output put under `key`, once."""
        return self._encoded.pop(key, None)

    def end_batch(self) -> None:
        """Steps stopped for now: commit what `step` durability must not keep waiting."""
        self._encoded.clear()
        if self.durability == "step":
            self.store.flush()

    def commit(self) -> list[str]:
        """Make every output put so far durable (unless `none`) and visible; the failures,
        as messages (those outputs are not stored)."""
        failures = []
        with self._lock:
            staged, self._staged = self._staged, []
            writings, self._writing = self._writing, []
        for key, writing in writings:
            try:
                staged.append(writing.result())
            except Exception as error:
                failures.append(f"output {key} could not be written: {error}")
        try:
            self.store.publish(staged, sync=self.durability == "run")
        except Exception as error:
            self.store.discard(staged)
            failures.append(f"outputs could not be committed to {self.store}: {error}")
        return failures

    def discard(self) -> None:
        """Drop every output not committed yet (the run will not commit)."""
        with self._lock:
            staged, self._staged = self._staged, []
            writings, self._writing = self._writing, []
        for _, writing in writings:
            try:
                staged.append(writing.result())
            except Exception:
                continue
        self.store.discard(staged)


OutputStore = IntermediateStore | OutputWriter
"""Where a step's outputs are put: the store itself, or a writer that writes them behind."""


def intermediate_store(outputs: OutputStore | None) -> IntermediateStore | None:
    """The store that `outputs` puts into: code that writes there itself, such as a step
    launched in another process, needs the store, not the writer in front of it."""
    return outputs.store if isinstance(outputs, OutputWriter) else outputs
