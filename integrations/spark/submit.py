"""The step launcher of solids tagged `{"spark": {"submit": {...}}}`: the step, its inputs and
resource specs are pickled into an exchange directory, `submitted_step.py` runs them as the
Spark driver program launched with spark-submit, and its events are relayed here as they
come."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventType
from solidflow.engine.step.context import Emit
from solidflow.engine.step.error_info import error_info
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.task import StepResult, StepTask
from solidflow.engine.store import IntermediateStore
from solidflow.integrations.spark import exchange
from solidflow.integrations.spark.executor_wait import ExecutorWait, master_web_uis
from solidflow.integrations.spark.submit_options import SubmitOptions, submit_options
from solidflow.resources.spark import CONNECT_MODE_VARIABLE

_POLL_SECONDS = 0.1
_APPLICATION_ID = re.compile(
    r"\b(app-\d{14}-\d{4}|application_\d+_\d+|local-\d{10,}|spark-[0-9a-f]{32})\b"
)
_ERROR_LINE = re.compile(r"(Exception|Error)\b.*:|^Error:")
_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (INFO|WARN|DEBUG)\b")


def _spark_submit(options: SubmitOptions) -> str:
    if options.spark_submit:
        return options.spark_submit
    import pyspark

    home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    return os.path.join(home, "bin", "spark-submit")


def _master(options: SubmitOptions, resources: ResourceManager) -> str:
    """The submit option's master, else the master of the run's `spark` resource."""
    if options.master:
        return options.master
    spec = resources.specs_for(["spark"]).get("spark")
    master = getattr(spec.config, "master", None) if spec is not None else None
    return master or "local[*]"


def _command(options: SubmitOptions, master: str, step: str, directory: Path) -> list[str]:
    command = [_spark_submit(options), "--master", master, "--deploy-mode", options.deploy_mode]
    command += ["--name", f"solidflow:{step}"]
    for key, value in options.conf.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        command += ["--conf", f"{key}={text}"]
    command += ["--conf", f"spark.pyspark.python={sys.executable}"]
    command += ["--conf", f"spark.pyspark.driver.python={sys.executable}"]
    if options.py_files:
        command += ["--py-files", ",".join(options.py_files)]
    if options.files:
        command += ["--files", ",".join(options.files)]
    script = Path(__file__).with_name("submitted_step.py")
    return [*command, str(script), str(directory)]


def _dynamic_allocation(options: SubmitOptions) -> bool:
    """Whether the application asks for executors only when it has work for them."""
    return str(options.conf.get("spark.dynamicAllocation.enabled", "")).lower() == "true"


def _environment(options: SubmitOptions) -> dict[str, str]:
    """This process's environment, with its module path so that the driver program finds the
    modules that solid definitions refer to."""
    # The driver program runs a classic session, whatever sessions this process has.
    connect = (CONNECT_MODE_VARIABLE, "SPARK_REMOTE", "SPARK_API_MODE")
    env = {key: value for key, value in os.environ.items() if key not in connect}
    env.update((key, str(value)) for key, value in options.env.items())
    path = [entry for entry in sys.path if entry]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    return env


def _driver_error(log: str) -> str:
    """The most telling line of a failed driver's output: the last error it reported."""
    for line in reversed(log.splitlines()):
        text = line.strip()
        if (
            text
            and not text.startswith("at ")
            and not _LOG_LINE.match(text)
            and _ERROR_LINE.search(text)
        ):
            return text
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "it printed nothing"


class _Relay:
    """Passes the driver program's events on, remembering what it saw."""

    def __init__(self, directory: Path, emit: Emit) -> None:
        self._reader = exchange.EventReader(directory / exchange.EVENTS)
        self._emit = emit
        self.started = False
        self.application_id: str | None = None

    def relay(self) -> None:
        for event_type, step, payload in self._reader.new_events():
            kind = EventType(event_type)
            self.started = self.started or kind is EventType.STEP_START
            self.application_id = payload.get("spark_application_id", self.application_id)
            self._emit(kind, step, payload)


def _run(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    relay: _Relay,
    timeout: float | None,
    executors: ExecutorWait,
) -> tuple[int | None, str | None]:
    """Run spark-submit, relaying events; its exit code (None if stopped) and why it was
    stopped (it ran out of time, or waited too long for executors)."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def driver_log() -> str:
        return log_path.read_text(errors="replace")

    def application_id() -> str | None:
        return relay.application_id or _find_application_id(driver_log())

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            while process.poll() is None:
                relay.relay()
                stopped = executors.starved(application_id, driver_log)
                if stopped is None and deadline is not None and time.monotonic() > deadline:
                    stopped = f"did not finish within {timeout:g}s and was stopped"
                if stopped is not None:
                    _stop(process)
                    return None, stopped
                time.sleep(_POLL_SECONDS)
        except BaseException:
            _stop(process)
            raise
    relay.relay()
    return process.returncode, None


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_submitted(
    task: StepTask,
    input_values: Mapping[str, Any],
    resources: ResourceManager,
    emit: Emit,
    store: IntermediateStore | None,
    options: SubmitOptions,
) -> StepResult:
    """Run `task` through spark-submit and return how it ended; never raises for failures of
    the submission or the step."""
    directory = Path(tempfile.mkdtemp(prefix="solidflow-submit-"))
    try:
        keys = set(task.solid.required_resource_keys) - {"spark"}
        submission = {
            "task": dataclasses.replace(task, handles={}),
            "inputs": dict(input_values),
            "resources": resources.specs_for(keys),
            "store": (store.root, store.storage_options) if store is not None else (None, {}),
        }
        try:
            exchange.dump(directory / exchange.TASK, submission)
        except Exception as exc:  # an input or resource config that cannot be pickled
            message = (
                f"solid '{task.step_key}' cannot be submitted with spark-submit: its inputs and "
                f"resource configs must be picklable ({type(exc).__name__}: "
                f"{error_info(exc).message})"
            )
            return _submission_failed(task, emit, message, started=False)
        master = _master(options, resources)
        command = _command(options, master, task.step_key, directory)
        relay = _Relay(directory, emit)
        log_path = directory / exchange.DRIVER_LOG
        executors = ExecutorWait(
            master_web_uis(master, options.master_web_ui),
            options.executor_wait,
            demand_shown_by_log=_dynamic_allocation(options),
        )
        try:
            code, stopped = _run(
                command, _environment(options), log_path, relay, options.timeout, executors
            )
        except OSError as error:  # spark-submit itself cannot be run
            code, stopped = None, None
            log_path.write_text(f"Error: cannot run {command[0]}: {error.strerror or error}\n")
        result_path = directory / exchange.RESULT
        if code == 0 and result_path.exists():
            try:
                result: StepResult = exchange.load(result_path)
                return result
            except Exception as exc:  # e.g. an output of a class this process cannot import
                message = (
                    f"solid '{task.step_key}' ran with spark-submit, but its result cannot be "
                    f"read back here ({type(exc).__name__}: {error_info(exc).message})"
                )
                return _submission_failed(task, emit, message, started=relay.started)
        log = log_path.read_text(errors="replace")
        app_id = relay.application_id or _find_application_id(log)
        if stopped is not None:
            reason = stopped
        elif code is None:
            reason = f"failed: {_driver_error(log)}"
        else:
            reason = f"failed (spark-submit exit code {code}): {_driver_error(log)}"
        application = f" as Spark application {app_id}" if app_id else ""
        message = (
            f"solid '{task.step_key}' submitted with spark-submit to {master}{application} {reason}"
        )
        return _submission_failed(
            task,
            emit,
            message,
            started=relay.started,
            spark_application_id=app_id,
            driver_log=log[-20_000:],
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _submission_failed(
    task: StepTask, emit: Emit, message: str, started: bool, **details: Any
) -> StepResult:
    """Record that the submitted step failed (and started, unless its driver said so)."""
    if not started:
        emit(EventType.STEP_START, task.step_key, {"attempt": 1, "pid": os.getpid()})
    emit(
        EventType.STEP_FAILURE,
        task.step_key,
        {"message": message, "kind": "spark_submit", **details},
    )
    return StepResult(step_key=task.step_key, success=False, message=message)


def _find_application_id(log: str) -> str | None:
    found = _APPLICATION_ID.search(log)
    return found.group(1) if found else None


class SparkSubmitLauncher:
    """Launches the steps of solids tagged for spark-submit (see `run_submitted`)."""

    def launches(self, solid: SolidDefinition) -> bool:
        return submit_options(solid.tags) is not None

    def launch(
        self,
        task: StepTask,
        input_values: Mapping[str, Any],
        resources: ResourceManager,
        emit: Emit,
        store: IntermediateStore | None,
    ) -> StepResult:
        options = submit_options(task.solid.tags)
        if options is None:
            raise ValueError(f"solid '{task.solid.name}' is not tagged for spark-submit")
        return run_submitted(task, input_values, resources, emit, store, options)


LAUNCHER = SparkSubmitLauncher()
