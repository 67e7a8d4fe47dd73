"""The daemon: starts queued runs under the instance's limits, watches the runs in flight,
and queues the runs of the schedules' due ticks. `solidflow daemon` runs it."""

from solidflow.daemon.daemon import Daemon, DaemonReport

__all__ = ["Daemon", "DaemonReport"]
