from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from solidflow import Instance

PIPELINES = str(Path(__file__).with_name("pipelines.py"))
SOLIDFLOW = [str(Path(sys.executable).with_name("solidflow"))]


@dataclass
class Completed:
    code: int
    out: str
    err: str


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(home: Path) -> Instance:
    return Instance(home)


@pytest.fixture
def cli(home: Path, tmp_path: Path) -> Callable[..., Completed]:
    """Run the `solidflow` command with the test's instance home, in tmp_path."""

    def run(*args: str, timeout: float = 60) -> Completed:
        env = {**os.environ, "SOLIDFLOW_HOME": str(home), "COLUMNS": "200"}
        done = subprocess.run(
            [*SOLIDFLOW, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=timeout,
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    return run


def target(name: str) -> str:
    return f"{PIPELINES}:{name}"
