"""`solidflow ui`: the workspace file, its mistakes, and where the server binds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import PIPELINES, SOLIDFLOW, ServerProcess

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]


def ui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOLIDFLOW_HOME": str(cwd / "home"), "COLUMNS": "200"}
    return subprocess.run(
        [SOLIDFLOW, "ui", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_a_workspace_file_lists_targets_relative_to_its_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    shutil.copy(PIPELINES, project / "flows" / "web_flows.py")
    workspace = project / "workspace.yaml"
    workspace.write_text("targets:\n  - flows/web_flows.py:hello\n  - flows/web_flows.py:sleepy\n")
    server = ServerProcess(["-w", str(workspace)], tmp_path / "home", tmp_path)
    try:
        listing = httpx.get(f"{server.url}/api/pipelines", timeout=60).json()
        assert [p["name"] for p in listing["pipelines"]] == ["hello", "sleepy"]
        assert all(location["error"] is None for location in listing["locations"])
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give pipeline TARGETs or --workspace FILE"),
        (("-w", "missing.yaml"), "cannot read workspace file missing.yaml"),
        (("-w", "bad.yaml"), "expected 'targets:' with a list of pipeline targets"),
        (("-w", "bad.yaml", "x.py:p"), "give either TARGETs or --workspace, not both"),
    ],
)
def test_mistakes_get_one_message_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("pipelines: [a.py:b]\n")
    done = ui(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_binding_beyond_the_loopback_prints_a_warning(tmp_path: Path) -> None:
    server = ServerProcess([f"{PIPELINES}:hello", "--host", "0.0.0.0"], tmp_path / "home", tmp_path)
    try:
        port = server.url.rsplit(":", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=60).status_code == 200
    finally:
        server.stop()
    assert "warning: serving on 0.0.0.0" in server.log.read_text()
