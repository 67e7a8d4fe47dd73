"""The wheel installs `solidflow` only; engine, resources, integrations and benchmarks live
inside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _source_copy(destination: Path) -> None:
    """The files the wheel is built from, copied so that the build leaves the checkout alone."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, destination / name)
    for package in ("solidflow", "engine", "resources", "integrations", "benchmarks"):
        shutil.copytree(
            ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )


def test_wheel_installs_solidflow_and_no_other_top_level_package(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    _source_copy(source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            "--quiet",
        ],
        check=True,
        cwd=tmp_path,
    )
    [wheel] = (tmp_path / "dist").glob("solidflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"solidflow"}
    for module in (
        "engine/run/scheduler.py",
        "engine/instance/sqlite.py",
        "resources/file_cache.py",
        "integrations/arrow.py",
        "integrations/spark/submitted_step.py",
        "integrations/notebook/api.py",
        "integrations/dbt/invoke.py",
        "benchmarks/suite/runner.py",
        "web/static/index.html",  # the UI's built assets ship inside the package
        "web/static/assets/app.js",
        "py.typed",  # type checkers read the package's annotations
    ):
        assert f"solidflow/{module}" in names
    [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    for group in ("solidflow.codecs", "solidflow.step_launchers", "solidflow.solid_tags"):
        assert f"[{group}]" in declared  # integrations are found without imports by hand

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    installed = {path.name for path in target.iterdir() if not path.name.endswith(".dist-info")}
    assert installed - {"bin"} == {"solidflow"}  # bin/ holds the console script
    probe = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "import solidflow.engine.run.scheduler, solidflow.resources, solidflow.integrations\n"
        "import solidflow.benchmarks.suite\n"
        f"assert solidflow.engine.__file__.startswith({str(target)!r}), solidflow.engine.__file__\n"
        "names = ('engine', 'resources', 'integrations', 'benchmarks')\n"
        "print([importlib.util.find_spec(n) for n in names])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert done.stdout.strip() == "[None, None, None, None]"
