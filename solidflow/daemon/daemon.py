"""The daemon's loop over the engine's run queue, run supervisor and schedules."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from solidflow.engine import (
    DequeuedRun,
    Instance,
    RunLauncher,
    RunQueue,
    RunSupervisor,
    SupervisedRun,
    TickRecord,
    evaluate_schedules,
    load_schedules,
)

logger = logging.getLogger("solidflow.daemon")
T = TypeVar("T")

SCHEDULE_INTERVAL = 1.0
"""Seconds, on the daemon's clock, between two evaluations of the schedules."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonReport:
    """What one pass of the daemon did."""

    started: list[DequeuedRun] = field(default_factory=list)
    supervised: list[SupervisedRun] = field(default_factory=list)
    ticks: list[TickRecord] = field(default_factory=list)


class Daemon:
    """Starts the instance's queued runs (highest priority first, then oldest first, within
    `run_queue` in solidflow.yaml) through a run launcher, watches the runs in flight (dead
    drivers, lost launches, cancels not carried out: `run_monitoring`), and queues the runs of
    the due ticks of the running schedules of the workspace.

    Several daemons may share an instance: each run is claimed in the run storage before it
    is launched, and each tick is recorded once, so no run starts twice. A daemon that is
    killed loses nothing: queued runs stay queued, and a tick it left half done is finished
    by the next one.

    Args:
        instance: the instance whose runs it starts.
        workspace: files ("path/to/file.py") or modules that define schedules (default: the
            instance's `workspace` setting).
        launcher: the run launcher (default: the instance's `run_launcher`).
        clock: the time schedules are evaluated at (seconds since the epoch); tests give a
            fake one. Runs, heartbeats and the daemon's own pace use the real time.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        workspace: Sequence[str] | None = None,
        launcher: RunLauncher | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance
        self.clock = clock
        locations = instance.config.workspace if workspace is None else workspace
        self.schedules = load_schedules(locations)
        self.queue = RunQueue(instance, launcher)
        self.supervisor = RunSupervisor(instance, (self.queue.launcher,))
        self._last_schedules: float | None = None

    def check_runs(self) -> list[SupervisedRun]:
        """Fail runs whose driver is gone, queue lost launches again, stop cancels that
        did not stop."""
        done = self.supervisor.check_runs()
        for each in done:
            logger.info("run %s %s: %s", each.run_id, each.action.value.lower(), each.reason)
        return done

    def evaluate_schedules(self) -> list[TickRecord]:
        """Queue the runs of the ticks due by the daemon's clock."""
        now = self.clock()
        self._last_schedules = now
        ticks = evaluate_schedules(self.instance, self.schedules.values(), now)
        for tick in ticks:
            outcome = f"run {tick.run_id}" if tick.run_id else ""
            logger.info("tick %s: %s %s %s", tick.key, tick.status.value, outcome, tick.error or "")
        return ticks

    def start_runs(self) -> list[DequeuedRun]:
        """Start the queued runs the limits allow."""
        started = self.queue.start_runs()
        for each in started:
            if each.error is None:
                logger.info("run %s launched", each.run_id)
            else:
                logger.warning("run %s could not be launched: %s", each.run_id, each.error)
        return started

    def iterate(self) -> DaemonReport:
        """One pass: check the runs in flight, evaluate the schedules, start queued runs."""
        supervised = self.check_runs()
        ticks = self.evaluate_schedules()
        return DaemonReport(started=self.start_runs(), supervised=supervised, ticks=ticks)

    def run(
        self,
        stop: threading.Event | None = None,
        on_pass: Callable[[DaemonReport], None] | None = None,
    ) -> None:
        """Run until `stop` is set: start queued runs every `dequeue_interval` seconds, check
        the runs in flight every `check_interval`, and evaluate the schedules every second;
        `on_pass` receives what each pass did."""
        stop = stop or threading.Event()
        queue_settings = self.instance.config.run_queue
        check_interval = self.instance.config.run_monitoring.check_interval
        next_check = 0.0
        while not stop.is_set():
            supervised: list[SupervisedRun] = []
            ticks: list[TickRecord] = []
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + check_interval
                supervised = self._guarded(self.check_runs)
            last = self._last_schedules
            if last is None or self.clock() - last >= SCHEDULE_INTERVAL:
                ticks = self._guarded(self.evaluate_schedules)
            started = self._guarded(self.start_runs)
            if on_pass is not None:
                on_pass(DaemonReport(started=started, supervised=supervised, ticks=ticks))
            stop.wait(queue_settings.dequeue_interval)

    def _guarded(self, step: Callable[[], list[T]]) -> list[T]:
        """Run one part of a pass; an error there (a storage or cluster that did not answer)
        is logged, and the next pass tries again."""
        try:
            return step()
        except Exception:
            logger.exception("daemon: %s failed", step.__name__)
            return []
