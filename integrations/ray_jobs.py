"""A run launcher that starts each run's driver as a Ray job on a cluster (Ray's Job
Submission API), so that the driver runs there, not on the machine that launched it."""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import Field

from solidflow.definitions.config import Config
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord
from solidflow.engine.run.launch import (
    DriverHealth,
    DriverState,
    LaunchedRun,
    RunLauncher,
    target_of,
)
from solidflow.engine.run.subprocess_launcher import DRIVER_MODULE
from solidflow.errors import RunRequestError

JOB_PREFIX = "solidflow-"
"""A run's job is submitted as "solidflow-<run id>"."""


class RayJobsSettings(Config):
    """The settings of the ray_jobs launcher (`run_launcher: {name: ray_jobs, ...}`)."""

    address: str = "http://127.0.0.1:8265"
    """The cluster's job server: the Ray dashboard's address."""
    python: str = "python"
    """The interpreter that runs the driver on the cluster; solidflow must be installed there."""
    home: str | None = None
    """The instance's home as the cluster's nodes see it (default: the same path)."""
    runtime_env: dict[str, Any] = Field(default_factory=dict)
    """The job's runtime environment (working_dir, py_modules, pip, env_vars, ...)."""
    entrypoint_num_cpus: float | None = None
    """CPUs reserved for the driver (Ray's entrypoint_num_cpus)."""
    entrypoint_resources: dict[str, float] = Field(default_factory=dict)
    """Custom resources reserved for the driver, e.g. to pin it to a node."""


def job_id(run_id: str) -> str:
    """The submission id of the Ray job that drives run `run_id`."""
    return f"{JOB_PREFIX}{run_id}"


class RayJobLaunch(LaunchedRun):
    """A run whose driver is a Ray job.

    Attributes:
        job_id: the job's submission id.
    """

    def __init__(self, run_id: str, instance: Instance, job_id: str) -> None:
        super().__init__(run_id, instance)
        self.job_id = job_id


class RayJobsRunLauncher(RunLauncher):
    """Submits `python -m solidflow.engine.run.driver RUN_ID --home HOME` as a Ray job with the
    submission id "solidflow-<run id>" (submitted once: a second submission of a run is
    refused by Ray). The driver runs on the cluster and joins it (a run on the Ray executor
    with no address uses the job's cluster); its output is the job's log (`ray job logs`).

    The driver reads and writes the instance's run storage and store: both must be reachable
    from the cluster's nodes (a shared home, or shared storage backends), and so must the
    target the run recorded (the same path, or code shipped with `runtime_env`).
    `check_run` asks the job server for the job's status; `terminate` stops the job (Ray
    ends its driver, and with it the tasks and actors the driver started).
    """

    name = "ray_jobs"
    config_schema = RayJobsSettings

    def __init__(self, settings: RayJobsSettings | None = None) -> None:
        self.settings = settings or RayJobsSettings()
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Config | None) -> RayJobsRunLauncher:
        assert settings is None or isinstance(settings, RayJobsSettings)
        return cls(settings)

    def jobs(self) -> Any:
        """The job submission client of the cluster (made on first use)."""
        if self._client is None:
            try:
                from ray.job_submission import JobSubmissionClient
            except ModuleNotFoundError as error:
                raise RunRequestError(
                    f"the ray_jobs launcher needs {error.name}: pip install 'solidflow[ray]'"
                ) from None
            try:
                self._client = JobSubmissionClient(self.settings.address)
            except Exception as error:  # connection refused, not a job server, ...
                raise RunRequestError(
                    f"cannot reach the Ray job server at {self.settings.address}: {error}"
                ) from None
        return self._client

    def launch(self, run: RunRecord, instance: Instance) -> RayJobLaunch:
        target_of(run)  # fail here, not on the cluster, when there is nothing to load
        home = self.settings.home or str(instance.home)
        entrypoint = shlex.join(
            [self.settings.python, "-m", DRIVER_MODULE, run.run_id, "--home", home]
        )
        env = dict(self.settings.runtime_env)
        env["env_vars"] = {"PYTHONUNBUFFERED": "1", **env.get("env_vars", {})}
        submitted = self.jobs().submit_job(
            entrypoint=entrypoint,
            submission_id=job_id(run.run_id),
            runtime_env=env,
            metadata={"solidflow_run_id": run.run_id, "pipeline": run.pipeline_name},
            entrypoint_num_cpus=self.settings.entrypoint_num_cpus,
            entrypoint_resources=self.settings.entrypoint_resources or None,
        )
        return RayJobLaunch(run.run_id, instance, submitted)

    def check_run(self, run: RunRecord, instance: Instance) -> DriverHealth:
        try:
            info = self.jobs().get_job_info(job_id(run.run_id))
        except RuntimeError as error:
            if "does not exist" in str(error):
                return DriverHealth(state=DriverState.NOT_LAUNCHED)
            raise
        if not info.status.is_terminal():
            return DriverHealth(state=DriverState.RUNNING)
        detail = f": {info.message}" if info.message else ""
        return DriverHealth(
            state=DriverState.GONE,
            reason=f"Ray job {job_id(run.run_id)} is {info.status.value}{detail}",
        )

    def terminate(self, run: RunRecord, instance: Instance) -> str | None:
        if not self.jobs().stop_job(job_id(run.run_id)):
            return None  # the job had ended already
        return f"Ray job {job_id(run.run_id)} stopped"
