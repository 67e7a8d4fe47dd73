"""Outputs that step tasks stored, committed by their worker process after the task
returned (several steps' outputs in one transaction), and the driver's wait for those
commits at the end of a run."""

from __future__ import annotations

import atexit
import sys
import threading
import time

from solidflow.engine.store import IntermediateStore

COMMIT_DELAY = 0.01
"""Most seconds a worker waits, after a step stored outputs, before it commits them: the
outputs of the steps that end meanwhile go in the same transaction."""
COMMIT_QUIET = 0.002
"""Seconds without another step storing outputs after which a worker commits at once."""
COMMIT_POLL = 0.0005
"""Seconds between two looks, at the end of a run, for the outputs not committed yet, while
workers should be committing them (the first 2 * COMMIT_DELAY)."""
COMMIT_POLL_LATE = 0.02
"""Seconds between two looks after that, while a worker may have stopped."""


class Committer:
    """Commits the outputs that this process's steps stored once steps stop storing for
    COMMIT_QUIET, or COMMIT_DELAY after the first of them, in one transaction per store; a
    step's task returns without waiting for it. The driver waits for these commits at the end
    of the run. Steps only wake the committer when it waits for a first output."""

    def __init__(self) -> None:
        self._due = threading.Event()
        self._lock = threading.Lock()
        self._stores: dict[int, IntermediateStore] = {}
        self._last_stored = 0.0
        self._idle = True
        self._thread: threading.Thread | None = None

    def commit_soon(self, store: IntermediateStore) -> None:
        with self._lock:
            self._stores[id(store)] = store
            self._last_stored = time.monotonic()
            wake, self._idle = self._idle, False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._commit_when_due, name="solidflow-commit", daemon=True
                )
                self._thread.start()
        if wake:
            self._due.set()

    def _commit_when_due(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            deadline = time.monotonic() + COMMIT_DELAY
            while True:  # until steps stop storing for a moment, or the deadline
                now = time.monotonic()
                due = min(self._last_stored + COMMIT_QUIET, deadline)
                if now >= due:
                    break
                time.sleep(due - now)
            self.commit_all()

    def commit_all(self) -> None:
        """Commit now what the stores hold; a failure is reported, and the driver then warns
        that the outputs were not stored."""
        with self._lock:  # a step that stores after this wakes the committer again
            stores, self._stores, self._idle = self._stores, {}, True
        for store in stores.values():
            try:
                store.flush()
            except Exception as error:  # the outputs stay missing; the driver says so
                print(f"solidflow: could not commit outputs to {store}: {error}", file=sys.stderr)


COMMITTER = Committer()
"""The committer of this worker process."""
atexit.register(COMMITTER.commit_all)


def not_committed(store: IntermediateStore, keys: list[str], timeout: float) -> list[str]:
    """The keys among `keys` that no process has committed an output under, after waiting up
    to `timeout` seconds for them."""
    start = time.monotonic()
    while True:
        committed = store.committed(keys)
        keys = [key for key in keys if key not in committed]
        waited = time.monotonic() - start
        if not keys or waited >= timeout:
            return keys
        time.sleep(COMMIT_POLL if waited < 2 * COMMIT_DELAY else COMMIT_POLL_LATE)
