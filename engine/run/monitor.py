"""The driver's watch over its run: heartbeats, cancel requests, SIGINT and SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from solidflow.engine.executors.interrupts import (
    CancelInterrupt,
    clear_interrupt,
    mark_interrupted,
)
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.instance.storage import RunChanges
from solidflow.errors import EventLogError

logger = logging.getLogger("solidflow")

CANCEL_POLL = 0.5
"""Most seconds between two looks at the run storage for a cancel request."""
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ALIVE = [status for status in RunStatus if status.alive]

SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class RunMonitor:
    """While a run's driver runs it (`with RunMonitor(...)`), this process's watcher thread
    writes the run's heartbeat into the run storage every `heartbeat_interval` seconds and
    looks there for a cancel request (CANCELING) every CANCEL_POLL seconds. SIGINT and SIGTERM
    to the process request a cancel too (when the run is driven by the main thread, also in a
    process that ignored them before the run); a second one forces a KeyboardInterrupt at once.

    Once a cancel is requested (`canceled`), the scheduler submits no more steps and cancels
    those in flight; a step running in the driving thread (the in-process executor) is
    interrupted as Ctrl-C interrupts it, when that is the main thread, and otherwise stops at
    its end. After the run's end is recorded, `deliver_signal` gives a signal that canceled
    it to the handler that was installed before.
    """

    def __init__(self, instance: Instance, run_id: str) -> None:
        self._instance = instance
        self.run_id = run_id
        self.interval = instance.config.run_monitoring.heartbeat_interval
        self.cancel_reason: str | None = None
        self.failure_reason: str | None = None
        self.signal: int | None = None
        self._synced = False  # whether the run storage knows of a cancel requested here
        self._interrupting = False  # a SIGINT this monitor sent to interrupt a step
        self._interrupted = False  # whether it sent one (it sends one per run)
        self._thread_id = threading.get_ident()
        self._previous: dict[int, SignalHandler] = {}
        self._next_beat = time.time() + self.interval
        self._active = False
        self._lock = threading.Lock()  # held while the watcher looks at the run

    # -- requests ------------------------------------------------------------------------

    @property
    def canceled(self) -> bool:
        """Whether the run must stop: a cancel was requested, or it cannot go on (`fail`)."""
        return self.cancel_reason is not None or self.failure_reason is not None

    def fail(self, reason: str) -> None:
        """Stop the run as a cancel does, to end it as failed for `reason` (its event log
        cannot be written); safe from any thread."""
        if self.failure_reason is None:
            self.failure_reason = reason

    def request_cancel(self, reason: str) -> None:
        """Ask for the run to stop (safe from any thread and from signal handlers: it only
        sets attributes, which the watcher thread and the scheduler read)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self._interrupting:
            self._interrupting = False  # sent by this monitor to interrupt a step
        elif self.signal is not None:
            raise KeyboardInterrupt  # a second signal: stop now, without a clean cancel
        else:
            self.signal = signum
            self.request_cancel(f"{signal.Signals(signum).name} received")
        if mark_interrupted(self._thread_id):
            raise CancelInterrupt

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> RunMonitor:
        if threading.current_thread() is threading.main_thread():
            for signum in CANCEL_SIGNALS:  # also when ignored: the run is what they stop now
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._on_signal)
        self._active = True
        _WATCHER.add(self)
        return self

    def reclaim_signals(self) -> None:
        """Install this monitor's signal handlers again, over those a library installed
        meanwhile (`ray.init` installs a SIGTERM handler that exits the process)."""
        for signum in self._previous:
            signal.signal(signum, self._on_signal)

    def __exit__(self, *exc_info: object) -> None:
        _WATCHER.remove(self)
        with self._lock:
            self._active = False
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        clear_interrupt(self._thread_id)

    def deliver_signal(self) -> None:
        """Give the signal that canceled the run (if one did) to the handler installed before
        the run: KeyboardInterrupt for SIGINT by default (also when the process ignored it),
        the end of the process for SIGTERM. Call it after leaving the monitor."""
        signum, self.signal = self.signal, None
        previous = self._previous.get(signum) if signum is not None else None
        if signum == signal.SIGINT and previous is signal.SIG_IGN:
            previous = signal.default_int_handler  # taken for the run: as from a terminal
        if signum is None or previous is None:
            return
        if callable(previous):
            previous(signum, None)
        elif previous == signal.SIG_DFL:
            signal.raise_signal(signum)

    # -- in the watcher thread -----------------------------------------------------------

    def look(self, now: float) -> None:
        """Heartbeat when due, look for a cancel request, and interrupt a step after one."""
        with self._lock:
            if not self._active:
                return
            try:
                if now >= self._next_beat or self._cancel_unsynced():
                    self._beat(now)
                    self._next_beat = now + self.interval
                else:
                    self._look_for_cancel()
            except EventLogError as error:  # the run cannot be recorded: stop it
                self.fail(str(error))
            except Exception:  # the next look tries again
                logger.warning("run %s: heartbeat failed", self.run_id, exc_info=True)
            if self.canceled:
                self._interrupt_step()

    def _beat(self, now: float) -> None:
        """Write the heartbeat (and CANCELING, for a cancel requested in this process)."""
        changes: RunChanges = {"heartbeat": now}
        if self._cancel_unsynced():
            changes["status"] = RunStatus.CANCELING
        storage = self._instance.storage
        if storage.update_run(self.run_id, expected=_ALIVE, **changes):
            self._look_for_cancel()
        else:
            current = storage.get_run(self.run_id)
            status = current.status.value if current is not None else "gone"
            self.request_cancel(f"the run was ended by another process ({status})")

    def _cancel_unsynced(self) -> bool:
        """Whether a cancel was requested in this process and the run storage is not told."""
        return self.cancel_reason is not None and not self._synced

    def _look_for_cancel(self) -> None:
        run = self._instance.storage.get_run(self.run_id)
        if run is not None and run.status is RunStatus.CANCELING:
            self._synced = True
            self.request_cancel("cancel requested")

    def _interrupt_step(self) -> None:
        """Interrupt a step running in the driving thread, once, if that is the main thread
        (whose SIGINT handler raises CancelInterrupt); in other threads a running step ends
        by itself, and no other starts."""
        if (
            mark_interrupted(self._thread_id)
            and signal.SIGINT in self._previous
            and not self._interrupted
        ):
            self._interrupted = self._interrupting = True
            signal.pthread_kill(self._thread_id, signal.SIGINT)


class _Watcher:
    """The thread that looks after every run this process drives, started on first use. It
    looks every CANCEL_POLL seconds (or a monitor's shorter heartbeat interval); a run added
    meanwhile waits for the next look (its driver wrote a heartbeat as it started it), so
    that starting a run does not wake the thread."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Start afresh (in a forked child: the parent's runs and thread are not its own)."""
        self._monitors: set[RunMonitor] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._period = CANCEL_POLL

    def add(self, monitor: RunMonitor) -> None:
        with self._changed:
            self._monitors.add(monitor)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="solidflow-run-monitor", daemon=True
                )
                self._thread.start()
            elif monitor.interval < self._period:
                self._changed.notify()

    def remove(self, monitor: RunMonitor) -> None:
        with self._changed:
            self._monitors.discard(monitor)

    def _watch(self) -> None:
        while True:
            with self._changed:
                intervals = [monitor.interval for monitor in self._monitors]
                self._period = min([CANCEL_POLL, *intervals])
                self._changed.wait(self._period)
                monitors = list(self._monitors)
            now = time.time()
            for monitor in monitors:
                monitor.look(now)


_WATCHER = _Watcher()
os.register_at_fork(after_in_child=_WATCHER.forget)


def terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler that stops the process as Ctrl-C does (KeyboardInterrupt): a run it
    drives is then canceled cleanly either way."""
    raise KeyboardInterrupt
