"""The test session itself (tests/conftest.py): without an optional extra, the tests that need
it are left out with one line per extra instead of failing collection; the CI profile refuses
to leave anything out; tests that start a cluster carry the cluster's marker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

HIDE = """
import sys

for name in {names!r}:
    sys.modules[name] = None  # `import name` raises ModuleNotFoundError
"""

CONFTEST = "from tests.conftest import *  # noqa: F403\n"

NEEDS_RAY_TO_IMPORT = """
import ray


def test_uses_ray():
    assert ray
"""

MARKED = """
import pytest


@pytest.mark.ray
def test_marked_ray():
    pass


@pytest.mark.spark
def test_marked_spark():
    pass


def test_plain():
    pass
"""

UNMARKED_CLUSTER = """
import pytest


@pytest.fixture
def ray_address():
    return "127.0.0.1:1"


def test_forgot_the_marker(ray_address):
    pass
"""


def _pytest(
    tmp_path: Path, hidden: tuple[str, ...], *args: str, profile: str = "dev"
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HIDE.format(names=hidden))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "SOLIDFLOW_TEST_PROFILE": profile,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text))
    return directory


def test_without_ray_and_pyspark_their_tests_are_left_out(tmp_path: Path) -> None:
    suite = _write(
        tmp_path / "suite",
        {"conftest.py": CONFTEST, "test_imports.py": NEEDS_RAY_TO_IMPORT, "test_marked.py": MARKED},
    )
    done = _pytest(tmp_path, ("ray", "pyspark"), str(suite), "--confcutdir", str(suite))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 deselected" in done.stdout
    ray_lines = [line for line in done.stdout.splitlines() if "solidflow[ray] is not" in line]
    assert ray_lines == [
        "solidflow[ray] is not installed (ray): 1 tests marked ray deselected; 1 test modules "
        "not collected; pip install 'solidflow[ray]' to run them"
    ]
    assert done.stdout.count("solidflow[spark] is not installed") == 1
    assert "error" not in done.stdout.lower()


def test_the_real_modules_that_need_ray_or_spark_collect_without_them(tmp_path: Path) -> None:
    modules = [
        "tests/unit/test_ray_wire.py",
        "tests/unit/test_spark_definitions.py",
        "tests/integration/test_ray_engine.py",
        "tests/integration/test_spark.py",
        "tests/integration/test_ray_spark.py",
    ]
    done = _pytest(tmp_path, ("ray", "pyspark"), *modules, "--collect-only", "-q")
    assert done.returncode == 5, done.stdout + done.stderr  # nothing left to run, no errors
    assert "error" not in done.stdout.lower()
    assert done.stdout.count("solidflow[ray] is not installed") == 1
    assert done.stdout.count("solidflow[spark] is not installed") == 1


def test_the_ci_profile_refuses_to_leave_tests_out(tmp_path: Path) -> None:
    suite = _write(tmp_path / "suite", {"conftest.py": CONFTEST, "test_marked.py": MARKED})
    done = _pytest(tmp_path, ("ray",), str(suite), "--confcutdir", str(suite), profile="ci")
    assert done.returncode == 4
    assert "the CI profile runs every test; install 'solidflow[ray]'" in done.stderr


def test_a_test_using_a_cluster_must_carry_its_marker(tmp_path: Path) -> None:
    suite = _write(
        tmp_path / "suite", {"conftest.py": CONFTEST, "test_cluster.py": UNMARKED_CLUSTER}
    )
    done = _pytest(tmp_path, (), str(suite), "--confcutdir", str(suite))
    assert done.returncode == 4
    assert "uses the ray_address fixture: mark it @pytest.mark.ray" in done.stderr
