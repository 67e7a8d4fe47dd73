"""Launch a run's driver in a new Python process, detached from the launching one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus, process_token
from solidflow.engine.run.launch import LaunchedRun, RunLauncher, target_of

DRIVER_MODULE = "solidflow.engine.run.driver"


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

    Args:
        python: the interpreter to run the driver with (default: this one).
    """

    name = "subprocess"

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def launch(self, run: RunRecord, instance: Instance) -> SubprocessLaunch:
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
        return SubprocessLaunch(run.run_id, instance, process, log_path)
