"""launch_run: start a QUEUED run through a RunLauncher (in this process, or a subprocess)."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord
from solidflow.engine.executors import Executor
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.registry import Registry
from solidflow.engine.run.drive import drive_run
from solidflow.engine.run.results import PipelineRunResult
from solidflow.engine.run.targets import load_pipeline
from solidflow.errors import RunRequestError


class LaunchedRun:
    """A run that a launcher started.

    Args:
        run_id: the run.
        instance: the instance that records it.
    """

    def __init__(self, run_id: str, instance: Instance) -> None:
        self.run_id = run_id
        self.instance = instance

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.run_id!r})"

    def wait(self, timeout: float | None = None, poll_interval: float = 0.1) -> RunRecord:
        """The run's record once it ended (a dead driver ends it too).

        Raises:
            TimeoutError: the run did not end within `timeout` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.instance.get_run(self.run_id)
            if run is None:
                raise RunRequestError(f"no run with id '{self.run_id}' in {self.instance.home}")
            if run.status.ended:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.run_id} did not end within {timeout:g} s")
            time.sleep(poll_interval)


class RunLauncher(ABC):
    """Starts the driver of a run that `launch_run` moved from QUEUED to STARTING; the
    driver records the run STARTED, then its end.

    Launchers are found by name in the `solidflow.run_launchers` entry point group
    ("in_process" and "subprocess" are built in), or by "package.module:Class"; solidflow.yaml's
    `run_launcher` names the instance's default. They are made without arguments.
    """

    name: ClassVar[str]

    @abstractmethod
    def launch(self, run: RunRecord, instance: Instance) -> LaunchedRun:
        """Start the driver of `run`, which is STARTING."""


RUN_LAUNCHERS = Registry("run launcher", "solidflow.run_launchers", RunLauncher)
"""The run launchers, by name."""


class InProcessLaunch(LaunchedRun):
    """A run driven in this process; it ended when `launch` returned.

    Attributes:
        result: the run's result (its events, outputs and per-solid results).
    """

    def __init__(self, run_id: str, instance: Instance, result: PipelineRunResult) -> None:
        super().__init__(run_id, instance)
        self.result = result


class InProcessRunLauncher(RunLauncher):
    """Drives the run in the calling thread: `launch` returns when the run ended.

    Args:
        pipeline: the run's pipeline (default: loaded from the target the run recorded).
        executor: the executor to run steps on (default: a new one of the class the run
            names).
        on_event: called with every event of the run as it happens.
        raise_on_error: raise StepFailure when a step fails.
    """

    name = "in_process"

    def __init__(
        self,
        pipeline: PipelineDefinition | None = None,
        *,
        executor: Executor | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        raise_on_error: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.executor = executor
        self.on_event = on_event
        self.raise_on_error = raise_on_error

    def launch(self, run: RunRecord, instance: Instance) -> InProcessLaunch:
        pipeline = self.pipeline
        if pipeline is None:
            pipeline, _ = load_pipeline(target_of(run))
        result = drive_run(
            run,
            pipeline,
            instance,
            executor=self.executor,
            on_event=self.on_event,
            raise_on_error=self.raise_on_error,
        )
        return InProcessLaunch(run.run_id, instance, result)


def target_of(run: RunRecord) -> str:
    """The target the run recorded; RunRequestError if it recorded none."""
    if run.target is None:
        raise RunRequestError(
            f"run {run.run_id} did not record where its pipeline is defined, so it cannot be "
            "loaded again; run pipelines from a module or file to launch them elsewhere"
        )
    return run.target


def launch_run(
    run_id: str,
    *,
    instance: Instance | None = None,
    launcher: RunLauncher | str | None = None,
) -> LaunchedRun:
    """Start the QUEUED run `run_id` through `launcher` (a RunLauncher, or the name or
    "package.module:Class" of one; default: the instance's `run_launcher`). The run becomes
    STARTING, and its driver makes it STARTED. With the in-process launcher the run has ended
    when this returns (`.result` holds its result); others return at once.

    Raises:
        RunRequestError: the run is unknown, or not QUEUED (launched or canceled already).
        PluginError: the launcher cannot be found or loaded.
    """
    instance = instance if instance is not None else Instance()
    if not isinstance(launcher, RunLauncher):
        launcher = RUN_LAUNCHERS.load(launcher or instance.config.run_launcher)()
    run = instance.storage.get_run(run_id)
    if run is None:
        raise RunRequestError(f"no run with id '{run_id}' in {instance.home}")
    launched = {"status": RunStatus.STARTING, "heartbeat": time.time()}
    if not instance.storage.update_run(run_id, expected=[RunStatus.QUEUED], **launched):
        current = instance.storage.get_run(run_id) or run
        raise RunRequestError(
            f"run {run_id} is {current.status.value}: only a QUEUED run can be launched"
        )
    starting = dataclasses.replace(run, **launched)
    try:
        return launcher.launch(starting, instance)
    except KeyboardInterrupt:
        message = "run canceled before it started"
        instance.end_run(starting, RunStatus.CANCELED, message, expected=[RunStatus.STARTING])
        raise
    except BaseException as error:
        # A launcher that fails before the run's driver started it: the run cannot start.
        message = f"run could not be launched: {type(error).__name__}: {error}"
        instance.end_run(starting, RunStatus.FAILURE, message, expected=[RunStatus.STARTING])
        raise
