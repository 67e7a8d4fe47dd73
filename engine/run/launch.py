"""launch_run: start a QUEUED run through a RunLauncher (in this process, or a subprocess)."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from pydantic import ValidationError

from solidflow.definitions.config import Config
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.events.records import EventRecord
from solidflow.engine.executors import Executor
from solidflow.engine.instance import CONFIG_FILE, Instance, InstanceConfigError
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.storage import RunChanges
from solidflow.engine.registry import PluginError, Registry, is_reference, reference_of
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


class DriverState(str, Enum):
    """What a launcher knows of the driver of a run it launched."""

    RUNNING = "RUNNING"
    """The driver runs (or is about to: a submitted job that waits for its resources)."""
    GONE = "GONE"
    """The driver's process or job ended."""
    NOT_LAUNCHED = "NOT_LAUNCHED"
    """The launcher never started a driver for the run."""
    UNKNOWN = "UNKNOWN"
    """The launcher cannot tell (the run's heartbeat says whether it lives)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverHealth:
    """The state of a run's driver as its launcher sees it, and for GONE, how it ended."""

    state: DriverState
    reason: str = ""


UNKNOWN_HEALTH = DriverHealth(state=DriverState.UNKNOWN)


class RunLauncher(ABC):
    """Starts the driver of a run that `launch_run` moved from QUEUED to STARTING; the
    driver records the run STARTED, then its end.

    Launchers are found by name in the `solidflow.run_launchers` entry point group
    ("in_process", "subprocess" and "ray_jobs" are built in), or by "package.module:Class";
    solidflow.yaml's `run_launcher` names the instance's default and gives its settings,
    validated by `config_schema` (a launcher without one takes none).
    """

    name: ClassVar[str]
    config_schema: ClassVar[type[Config] | None] = None

    @classmethod
    def from_settings(cls, settings: Config | None) -> RunLauncher:
        """The launcher with these settings (validated by `config_schema`; None without
        one). The default makes it without arguments."""
        return cls()

    @abstractmethod
    def launch(self, run: RunRecord, instance: Instance) -> LaunchedRun:
        """Start the driver of `run`, which is STARTING."""

    def check_run(self, run: RunRecord, instance: Instance) -> DriverHealth:
        """Whether the driver this launcher started for `run` still runs, asked of what
        started it (a child process of this one, a job on a cluster), never of a process id
        on this host: the asking process may run elsewhere. The default cannot tell."""
        return UNKNOWN_HEALTH

    def terminate(self, run: RunRecord, instance: Instance) -> str | None:
        """Stop the driver of `run` at once (its process killed, its job stopped), after a
        cooperative cancel did not stop it; what was done, or None if this launcher cannot
        stop it. The default cannot."""
        return None


RUN_LAUNCHERS = Registry[RunLauncher]("run launcher", "solidflow.run_launchers", RunLauncher)
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


def launcher_name(launcher: RunLauncher) -> str:
    """How a run records `launcher`: its registered name, else its "package.module:Class"."""
    name = getattr(launcher, "name", None)
    if isinstance(name, str) and not is_reference(name):
        try:
            if RUN_LAUNCHERS.load(name) is type(launcher):
                return name
        except PluginError:
            pass
    return reference_of(type(launcher))


def make_launcher(name: str | None, instance: Instance) -> RunLauncher:
    """The launcher `name` (a registered name or "package.module:Class"; default: the
    instance's `run_launcher`), with the settings solidflow.yaml gives it when it is the
    instance's launcher.

    Raises:
        PluginError: the launcher cannot be found or loaded.
        InstanceConfigError: its settings in solidflow.yaml are invalid.
    """
    configured = instance.config.run_launcher
    name = name or configured.name
    cls = RUN_LAUNCHERS.load(name)
    given: Mapping[str, Any] = configured.settings if name == configured.name else {}
    where = f"{instance.home / CONFIG_FILE}: run_launcher"
    if cls.config_schema is None:
        if given:
            raise InstanceConfigError(f"{where}: launcher '{name}' takes no settings")
        return cls.from_settings(None)
    try:
        settings = cls.config_schema.model_validate(dict(given))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise InstanceConfigError(f"{where}: {problems}") from None
    return cls.from_settings(settings)


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
        InstanceConfigError: its settings in solidflow.yaml are invalid.
    """
    instance = instance if instance is not None else Instance()
    if not isinstance(launcher, RunLauncher):
        launcher = make_launcher(launcher, instance)
    run = instance.storage.get_run(run_id)
    if run is None:
        raise RunRequestError(f"no run with id '{run_id}' in {instance.home}")
    launched: RunChanges = {
        "status": RunStatus.STARTING,
        "heartbeat": time.time(),
        "launcher": launcher_name(launcher),
    }
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
