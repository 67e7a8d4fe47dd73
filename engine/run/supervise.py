"""The watch over runs in flight that the daemon keeps: dead drivers, launches that never
happened, and cancels that a driver does not carry out."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum

from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus, heartbeat_silence
from solidflow.engine.registry import PluginError
from solidflow.engine.run.launch import (
    UNKNOWN_HEALTH,
    DriverHealth,
    DriverState,
    RunLauncher,
    launcher_name,
    make_launcher,
)

logger = logging.getLogger("solidflow")

_IN_FLIGHT = [status for status in RunStatus if status.alive]


class SupervisorAction(str, Enum):
    """What the supervisor did to a run."""

    ENDED = "ENDED"
    """Its driver was gone: the run was recorded as failed (canceled, if it was CANCELING)."""
    REQUEUED = "REQUEUED"
    """It was claimed for a launch that never happened: it is QUEUED again."""
    TERMINATED = "TERMINATED"
    """It did not stop within `cancel_grace` of its cancel: its driver was stopped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisedRun:
    """A run the supervisor acted on, what it did, and why."""

    run_id: str
    action: SupervisorAction
    reason: str


class RunSupervisor:
    """Looks after the runs in flight (STARTING, STARTED, CANCELING), as a daemon does:

    - a run whose driver is gone, as its launcher tells (a child process that exited, a Ray
      job that ended), or whose heartbeat is older than `heartbeat_timeout`, is recorded as
      FAILURE (CANCELED if it was CANCELING) with the reason; no process id on this host is
      looked at, since the runs may run on other hosts; a STARTING run has no heartbeat yet
      (its driver boots, or its job waits for resources): it fails when its launcher says its
      driver is gone, or cannot tell and the run was launched `heartbeat_timeout` ago;
    - a run claimed for launch (STARTING) whose launcher never started a driver for it (the
      process that claimed it stopped before it launched it) is QUEUED again after
      `launch_grace` seconds;
    - a run still CANCELING `cancel_grace` seconds after the supervisor first saw it so has
      its driver stopped by its launcher (process killed, Ray job stopped) and is recorded
      as CANCELED; the steps it completed keep their stored outputs.

    Settings are `run_monitoring` in solidflow.yaml.

    Args:
        instance: the instance whose runs are watched.
        launchers: launchers already made (the queue's, which knows the processes it
            started); others are made by name as runs name them.
    """

    def __init__(self, instance: Instance, launchers: tuple[RunLauncher, ...] = ()) -> None:
        self.instance = instance
        self._launchers: dict[str, RunLauncher | None] = {
            launcher_name(launcher): launcher for launcher in launchers
        }
        self._canceling_since: dict[str, float] = {}

    def check_runs(self) -> list[SupervisedRun]:
        """Look at every run in flight once; what was done."""
        now = time.time()
        done = []
        runs = self.instance.storage.get_runs(_IN_FLIGHT)
        for run in runs:
            action = self._check(run, now)
            if action is not None:
                done.append(action)
        canceling = {run.run_id for run in runs if run.status is RunStatus.CANCELING}
        for run_id in set(self._canceling_since) - canceling:
            del self._canceling_since[run_id]
        return done

    def _launcher(self, name: str | None) -> RunLauncher | None:
        if name is None:
            return None
        if name not in self._launchers:
            try:
                self._launchers[name] = make_launcher(name, self.instance)
            except PluginError as error:
                logger.warning("cannot ask launcher %s about its runs: %s", name, error)
                self._launchers[name] = None
        return self._launchers[name]

    def _health(self, run: RunRecord, launcher: RunLauncher | None) -> DriverHealth:
        if launcher is None:
            return UNKNOWN_HEALTH
        try:
            return launcher.check_run(run, self.instance)
        except Exception as error:  # the cluster did not answer: the heartbeat decides
            logger.warning("cannot check run %s: %s: %s", run.run_id, type(error).__name__, error)
            return UNKNOWN_HEALTH

    def _check(self, run: RunRecord, now: float) -> SupervisedRun | None:
        monitoring = self.instance.config.run_monitoring
        launcher = self._launcher(run.launcher)
        health = self._health(run, launcher)
        if health.state is DriverState.GONE:
            return self._ended(run, health.reason)
        if health.state is DriverState.NOT_LAUNCHED and run.status is RunStatus.STARTING:
            if now - run.last_sign_of_life > monitoring.launch_grace:
                return self._requeued(run)
            return None
        if run.status is RunStatus.STARTING:
            launched = now - run.last_sign_of_life
            if health.state is DriverState.UNKNOWN and launched > monitoring.heartbeat_timeout:
                return self._ended(run, f"its driver never started: launched {launched:.0f} s ago")
            return None  # booting, or its job waits for resources: its launcher says so
        silence = heartbeat_silence(run, now=now, timeout=monitoring.heartbeat_timeout)
        if silence is not None:
            return self._ended(run, silence)
        if run.status is RunStatus.CANCELING and launcher is not None:
            since = self._canceling_since.setdefault(run.run_id, now)
            if now - since >= monitoring.cancel_grace:
                return self._terminated(run, launcher, monitoring.cancel_grace)
        return None

    def _ended(self, run: RunRecord, reason: str) -> SupervisedRun | None:
        ended = self.instance.end_dead_run(run, reason)
        if ended.status.alive:  # its driver came back meanwhile
            return None
        return SupervisedRun(run_id=run.run_id, action=SupervisorAction.ENDED, reason=reason)

    def _requeued(self, run: RunRecord) -> SupervisedRun | None:
        requeued = self.instance.storage.update_run(
            run.run_id,
            expected=[RunStatus.STARTING],
            status=RunStatus.QUEUED,
            heartbeat=None,
            launcher=None,
        )
        if not requeued:
            return None
        reason = f"launcher {run.launcher} never started a driver for the run"
        return SupervisedRun(run_id=run.run_id, action=SupervisorAction.REQUEUED, reason=reason)

    def _terminated(
        self, run: RunRecord, launcher: RunLauncher, grace: float
    ) -> SupervisedRun | None:
        how = launcher.terminate(run, self.instance)
        if how is None:
            return None
        reason = f"run canceled: its driver did not stop within {grace:g} s of the cancel ({how})"
        ended = self.instance.end_run(run, RunStatus.CANCELED, reason, expected=[run.status])
        if ended is None:  # the driver, told to stop (SIGTERM), may have recorded its end
            ended = self.instance.storage.get_run(run.run_id)
            if ended is None or ended.status.alive:
                return None
        self._canceling_since.pop(run.run_id, None)
        return SupervisedRun(run_id=run.run_id, action=SupervisorAction.TERMINATED, reason=reason)
