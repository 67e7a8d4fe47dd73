"""The run queue: which QUEUED runs start next, under the instance's concurrency limits, and
starting them through a run launcher."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solidflow.engine.instance import Instance
from solidflow.engine.instance.config import RunQueueConfig, TagConcurrencyLimit
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.tags import priority_of
from solidflow.engine.run.launch import RunLauncher, launch_run, make_launcher
from solidflow.errors import SolidflowError

logger = logging.getLogger("solidflow")

_IN_FLIGHT = [status for status in RunStatus if status.alive]


def queue_order(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """`runs` in the order they start: highest priority first, then oldest first."""
    return sorted(runs, key=lambda run: (-priority_of(run.tags), run.create_time, run.run_id))


def queued_runs(instance: Instance) -> list[RunRecord]:
    """The instance's QUEUED runs in the order the daemon starts them."""
    return queue_order(instance.runs(status=RunStatus.QUEUED))


class _TagCounts:
    """How many runs hold each tag limit's slots."""

    def __init__(self, limits: Sequence[TagConcurrencyLimit], runs: Iterable[RunRecord]) -> None:
        self._limits = limits
        self._counts: Counter[tuple[int, str | None]] = Counter()
        for run in runs:
            self.add(run)

    def _slots(self, run: RunRecord) -> list[tuple[int, str | None, int]]:
        """(limit index, value counted under, limit) of every limit `run` falls under."""
        slots = []
        for index, limit in enumerate(self._limits):
            value = run.tags.get(limit.key)
            if value is None or (limit.value is not None and value != limit.value):
                continue
            slots.append((index, value if limit.per_value else None, limit.limit))
        return slots

    def allows(self, run: RunRecord) -> bool:
        return all(self._counts[(index, value)] < cap for index, value, cap in self._slots(run))

    def add(self, run: RunRecord) -> None:
        for index, value, _ in self._slots(run):
            self._counts[(index, value)] += 1


def runs_to_start(
    queued: Iterable[RunRecord], in_flight: Sequence[RunRecord], config: RunQueueConfig
) -> list[RunRecord]:
    """The queued runs that may start now, in order, given the runs in flight (launched and
    not ended): in `queue_order`, while fewer than `max_concurrent_runs` run; a run that a tag
    limit holds back waits, and the runs after it may start."""
    free = None if config.max_concurrent_runs is None else config.max_concurrent_runs
    if free is not None:
        free -= len(in_flight)
    counts = _TagCounts(config.tag_concurrency_limits, in_flight)
    chosen = []
    for run in queue_order(queued):
        if free is not None and free <= 0:
            break
        if not counts.allows(run):
            continue
        chosen.append(run)
        counts.add(run)
        if free is not None:
            free -= 1
    return chosen


@dataclass(frozen=True, slots=True, kw_only=True)
class DequeuedRun:
    """A queued run the queue took: when, and whether its launch failed (then the run is
    recorded as failed, and `error` says why)."""

    run_id: str
    launch_time: float
    error: str | None = None


class RunQueue:
    """Starts the instance's QUEUED runs through a run launcher, within the limits of
    `run_queue` in solidflow.yaml. Each run is claimed in the run storage (QUEUED to STARTING,
    in one conditional update) before it is launched, so that two queues never start the
    same run.

    Args:
        instance: the instance whose runs start.
        launcher: the launcher (default: the instance's `run_launcher`).
    """

    def __init__(self, instance: Instance, launcher: RunLauncher | str | None = None) -> None:
        self.instance = instance
        self.launcher = (
            launcher if isinstance(launcher, RunLauncher) else make_launcher(launcher, instance)
        )

    def start_runs(self) -> list[DequeuedRun]:
        """Start the queued runs that may start now; what was started (or failed to)."""
        storage = self.instance.storage
        queued = storage.get_runs(RunStatus.QUEUED)
        if not queued:
            return []
        in_flight = storage.get_runs(_IN_FLIGHT)
        started = []
        for run in runs_to_start(queued, in_flight, self.instance.config.run_queue):
            launch_time = time.time()
            try:
                launch_run(run.run_id, instance=self.instance, launcher=self.launcher)
            except Exception as error:
                current = storage.get_run(run.run_id)
                if current is None or current.status is not RunStatus.FAILURE:
                    continue  # taken by another queue, or canceled, meanwhile
                # launch_run recorded the run as failed: the launcher could not start it
                message = str(error) if isinstance(error, SolidflowError) else repr(error)
                logger.warning("run %s could not be launched: %s", run.run_id, message)
                started.append(
                    DequeuedRun(run_id=run.run_id, launch_time=launch_time, error=message)
                )
            else:
                started.append(DequeuedRun(run_id=run.run_id, launch_time=launch_time))
        return started
