"""`reexecute --from-failure` after a run that ended early: its driver killed (SIGKILL),
interrupted (SIGINT) or canceled. Every step that did not succeed runs again: the one that
started and never ended, those that never started, and their descendants."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from tests.e2e.conftest import SOLIDFLOW, target


def _wait_for_stall(instance, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.runs()
        if runs and any(e.message == "going to sleep" for e in instance.events(runs[0].run_id)):
            return runs[0].run_id
        time.sleep(0.05)
    raise TimeoutError("the step stall never started")


def _steps(instance, run_id: str, kind: EventType) -> list[str]:
    return [e.step for e in instance.events(run_id) if e.type is kind]


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGINT", "cancel"])
def test_from_failure_reruns_every_step_that_did_not_succeed(stop, cli, home, instance, tmp_path):
    (tmp_path / "slow.yaml").write_text("solids: {stall: {config: {seconds: 120}}}\n")
    (tmp_path / "quick.yaml").write_text("solids: {stall: {config: {seconds: 0}}}\n")
    driver = subprocess.Popen(
        [*SOLIDFLOW, "run", target("interruptible"), "-c", "slow.yaml"],
        env={**os.environ, "SOLIDFLOW_HOME": str(home)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        run_id = _wait_for_stall(instance)
        if stop == "cancel":
            assert cli("cancel", run_id).code == 0
        else:
            driver.send_signal(getattr(signal, stop))
        driver.wait(timeout=60)
    finally:
        driver.kill()
        driver.wait()
    parent = instance.get_run(run_id)
    assert parent.status is (RunStatus.FAILURE if stop == "SIGKILL" else RunStatus.CANCELED)
    succeeded = set(_steps(instance, run_id, EventType.STEP_SUCCESS))
    assert "stall" not in succeeded and "finish" not in succeeded
    assert "number" in succeeded

    again = cli("reexecute", run_id, "--from-failure", "-c", "quick.yaml")
    assert again.code == 0, again.err
    assert "Traceback" not in again.err
    child = instance.runs()[0]
    assert child.parent_run_id == run_id and child.status is RunStatus.SUCCESS
    ran = _steps(instance, child.run_id, EventType.STEP_SUCCESS)
    assert set(ran) == {"stall", "finish"} | ({"other", "side"} - succeeded)
    assert ran.index("stall") < ran.index("finish")
    [output] = [
        e
        for e in instance.events(child.run_id)
        if e.type is EventType.STEP_OUTPUT and e.step == "finish"
    ]
    assert output.payload["key"]
