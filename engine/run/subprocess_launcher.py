"""Launch a run's driver in a new Python process, detached from the launching one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import OrderedDict

from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus, process_token
from solidflow.engine.run.launch import (
    UNKNOWN_HEALTH,
    DriverHealth,
    DriverState,
    LaunchedRun,
    RunLauncher,
    target_of,
)

DRIVER_MODULE = "solidflow.engine.run.driver"
_EXITS_KEPT = 1000


class SubprocessLaunch(LaunchedRun):
    """A run whose driver runs in a child process.

    Attributes:
        process: the driver's process.
        log_path: where the driver's standard output and error go.
    """

    def __init__(
        self, run_id: str, instance: Instance, process: subprocess.Popen[bytes], log_path: str
    ) -> None:
        super().__init__(run_id, instance)
        self.process = process
        self.log_path = log_path


class SubprocessRunLauncher(RunLauncher):
    """Starts each run's driver as `python -m solidflow.engine.run.driver RUN_ID --home HOME`,
    in a new session (Ctrl-C in the launching terminal does not reach it), in the launching
    process's working directory and environment. The driver loads the pipeline from the
    target the run recorded; its output goes to `<home>/logs/<run id>.log`.

    The launcher keeps the processes it started: `check_run` tells whether one still runs,
    and `terminate` kills it (and the processes it started in its session). Of the runs
    another process launched it knows only whether they were launched at all.

    Args:
        python: the interpreter to run the driver with (default: this one).
    """

    name = "subprocess"

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._exits: OrderedDict[str, tuple[int, int]] = OrderedDict()  # run -> (pid, code)

    def launch(self, run: RunRecord, instance: Instance) -> SubprocessLaunch:
        self._reap()
        target_of(run)  # fail here, not in the child, when there is nothing to load
        logs = instance.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = str(logs / f"{run.run_id}.log")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [self.python, "-m", DRIVER_MODULE, run.run_id, "--home", str(instance.home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        # Until the driver records itself, the run's liveness is this process's.
        instance.storage.update_run(
            run.run_id,
            expected=[RunStatus.STARTING],
            pid=process.pid,
            hostname=socket.gethostname(),
            process_start=process_token(process.pid),
        )
        self._processes[run.run_id] = process
        return SubprocessLaunch(run.run_id, instance, process, log_path)

    def check_run(self, run: RunRecord, instance: Instance) -> DriverHealth:
        self._reap()
        if run.run_id in self._processes:
            return DriverHealth(state=DriverState.RUNNING)
        exited = self._exits.pop(run.run_id, None)
        if exited is not None:
            pid, code = exited
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            return DriverHealth(
                state=DriverState.GONE,
                reason=f"run process {pid} {how} without finishing the run",
            )
        if run.pid is None and run.start_time is None:
            return DriverHealth(state=DriverState.NOT_LAUNCHED)
        return UNKNOWN_HEALTH

    def _reap(self) -> None:
        """Collect the exit codes of the drivers that exited (the last _EXITS_KEPT)."""
        for run_id, process in list(self._processes.items()):
            code = process.poll()
            if code is not None:
                del self._processes[run_id]
                self._exits[run_id] = (process.pid, code)
        while len(self._exits) > _EXITS_KEPT:
            self._exits.popitem(last=False)

    def terminate(self, run: RunRecord, instance: Instance) -> str | None:
        process = self._processes.get(run.run_id)
        if process is None or process.poll() is not None:
            return None
        os.killpg(process.pid, signal.SIGKILL)  # the driver leads its own session
        process.wait()
        return f"run process {process.pid} killed"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
