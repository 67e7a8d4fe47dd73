"""News of stored events through PostgreSQL's LISTEN/NOTIFY.

Writers send a notification naming the run (`pg_notify`) in the transaction that stores its
events or changes its record; PostgreSQL delivers it when that transaction commits. Each
process that waits for events keeps one connection that listens, in a thread, and wakes the
waiters of the runs named. Nothing polls the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

CHANNEL = "solidflow_events"
"""The channel of the notifications; their payload is the run id."""
_RECONNECT_DELAY = 1.0
_LISTENING_TIMEOUT = 30.0

_LOG = logging.getLogger("solidflow")


class EventNotifications:
    """Waits for notifications about runs, through one listening connection to `url`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._changed = threading.Condition()
        self._interest: dict[str, int] = {}  # waiters per run id
        self._news: dict[str, int] = {}  # notifications per run id that has waiters
        self._epoch = 0  # a new connection: notifications may have been missed
        self._listening = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _state(self, run_id: str) -> tuple[int, int]:
        return self._epoch, self._news.get(run_id, 0)

    def wait(self, run_id: str, ready: Callable[[], bool], timeout: float) -> None:
        """Return once `ready()` is true, or a notification names `run_id` (or the listening
        connection was renewed), or after `timeout` seconds. `ready` is called once, after
        the listener is listening, so no notification sent after it looked is missed."""
        self._start()
        with self._changed:
            self._interest[run_id] = self._interest.get(run_id, 0) + 1
            seen = self._state(run_id)
        try:
            if ready():
                return
            with self._changed:
                self._changed.wait_for(lambda: self._state(run_id) != seen, timeout)
        finally:
            with self._changed:
                self._interest[run_id] -= 1
                if not self._interest[run_id]:
                    del self._interest[run_id]
                    self._news.pop(run_id, None)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="solidflow-pg-listener", daemon=True
                )
                self._thread.start()
        if not self._listening.wait(_LISTENING_TIMEOUT):
            raise ConnectionError(f"cannot listen for events: no connection to {self._url}")

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._changed:
                        self._epoch += 1  # wake every waiter: they look again
                        self._changed.notify_all()
                    self._listening.set()
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self._tell(notice.payload)
            except psycopg.Error as error:
                if self._stopped.is_set():
                    return
                _LOG.debug("listening for events failed (%s); connecting again", error)
                time.sleep(_RECONNECT_DELAY)

    def _tell(self, run_id: str) -> None:
        with self._changed:
            if run_id in self._interest:
                self._news[run_id] = self._news.get(run_id, 0) + 1
                self._changed.notify_all()

    def close(self) -> None:
        """Stop listening (within a second)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
