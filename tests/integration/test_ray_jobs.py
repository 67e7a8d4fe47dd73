"""The ray_jobs run launcher on a real local Ray cluster (with its job server): the daemon's
queue starts runs as Ray jobs, the supervisor fails a run whose job failed, and stops the job
of a run that a cancel did not stop."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from solidflow import Instance, RunStatus, create_run
from solidflow.engine import EventType, RunQueue, RunSupervisor, SupervisorAction
from solidflow.integrations.ray_jobs import RayJobsRunLauncher, RayJobsSettings, job_id
from tests import queue_pipelines
from tests.waiting import wait_for

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.ray, pytest.mark.slow]


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(
        "run_monitoring: {heartbeat_interval: 0.2, heartbeat_timeout: 30, cancel_grace: 1}\n"
    )
    return Instance(home)


REPOSITORY = Path(__file__).resolve().parents[2]
"""Where the test pipelines' package is: the cluster's nodes each work in a directory of their
own, so the job is told where the user code is, as on a real cluster."""


@pytest.fixture
def launcher(ray_job_server: str) -> RayJobsRunLauncher:
    settings = RayJobsSettings(
        address=ray_job_server,
        python=sys.executable,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPOSITORY)}},
    )
    return RayJobsRunLauncher(settings)


def _nap(instance: Instance, seconds: float, **nap: object) -> str:
    config = {"solids": {"nap": {"config": {"seconds": seconds, **nap}}}}
    return create_run(queue_pipelines.napper, config, instance=instance).run_id


def _said(instance: Instance, run_id: str, text: str) -> bool:
    return any(text in event.message for event in instance.events(run_id))


def test_a_queued_run_runs_as_a_ray_job_on_the_cluster(instance, launcher):
    run_id = _nap(instance, 0.1)
    [started] = RunQueue(instance, launcher).start_runs()
    assert (started.run_id, started.error) == (run_id, None)
    stored = instance.storage.get_run
    wait_for(lambda: stored(run_id).status.ended, what="the run to end")
    run = stored(run_id)
    assert run.status is RunStatus.SUCCESS and run.launcher == "ray_jobs"
    jobs = launcher.jobs()
    wait_for(lambda: jobs.get_job_status(job_id(run_id)).is_terminal(), what="the job to end")
    info = jobs.get_job_info(job_id(run_id))
    assert info.status.value == "SUCCEEDED" and info.driver_exit_code == 0
    assert info.metadata["solidflow_run_id"] == run_id
    assert launcher.check_run(run, instance).state.value == "GONE"  # the job is over
    assert "going to sleep in process" in " ".join(e.message for e in instance.events(run_id))


def test_the_supervisor_fails_a_run_whose_ray_job_failed(instance, launcher):
    run_id = _nap(instance, 120)
    RunQueue(instance, launcher).start_runs()
    wait_for(lambda: _said(instance, run_id, "going to sleep"), what="the nap to start")
    supervisor = RunSupervisor(instance, (launcher,))
    assert supervisor.check_runs() == []  # the job runs
    os.kill(instance.storage.get_run(run_id).pid, signal.SIGKILL)  # the driver dies
    found: list = []
    wait_for(lambda: found.extend(supervisor.check_runs()) or found, what="the supervisor")
    [done] = found
    assert done.action is SupervisorAction.ENDED
    assert done.reason.startswith(f"Ray job {job_id(run_id)} is FAILED")
    assert instance.storage.get_run(run_id).status is RunStatus.FAILURE


def test_a_cancel_the_driver_does_not_carry_out_stops_the_ray_job(instance, launcher):
    run_id = _nap(instance, 120, ignore_interrupts=True)
    RunQueue(instance, launcher).start_runs()
    wait_for(lambda: _said(instance, run_id, "going to sleep"), what="the nap to start")
    instance.cancel_run(run_id)
    supervisor = RunSupervisor(instance, (launcher,))
    found: list = []
    wait_for(lambda: found.extend(supervisor.check_runs()) or found, what="the supervisor")
    [done] = found
    assert done.action is SupervisorAction.TERMINATED
    assert done.reason.endswith(f"(Ray job {job_id(run_id)} stopped)")
    assert instance.storage.get_run(run_id).status is RunStatus.CANCELED
    assert instance.events(run_id)[-1].type is EventType.RUN_CANCELED
    jobs = launcher.jobs()
    wait_for(lambda: jobs.get_job_status(job_id(run_id)).is_terminal(), what="the job to stop")
    assert jobs.get_job_status(job_id(run_id)).value == "STOPPED"
