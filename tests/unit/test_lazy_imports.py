"""The `solidflow` command starts without importing what it does not use: the packages
import their exports when first read, and each command is imported when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import solidflow
import solidflow.engine
import solidflow.engine.instance

HEAVY = ("pyarrow", "numpy", "pandas", "ray", "fsspec", "solidflow.engine.run.execute")

MODULES_AFTER = """
import json, sys
from solidflow.cli import main
try:
    main({args!r})
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(*args: str) -> set[str]:
    """The modules a new process has imported after running `solidflow ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER.format(args=list(args))],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["runs"], ["runs", "--limit", "5"]])
def test_listing_runs_imports_neither_arrow_nor_the_engine_that_runs(tmp_path, args):
    imported = modules_after("--home", str(tmp_path), *args)
    assert "solidflow.cli" in imported
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_a_home_without_settings_lists_runs_without_the_machinery_of_settings(tmp_path):
    """Its settings are all defaults: neither read (YAML) nor validated (pydantic)."""
    imported = modules_after("--home", str(tmp_path), "runs")
    assert "solidflow.engine.instance.sqlite" in imported
    assert not imported & {"pydantic", "yaml", "solidflow.engine.instance.config"}


def test_a_command_that_runs_pipelines_still_finds_what_it_needs(tmp_path):
    imported = modules_after("--home", str(tmp_path), "plan", "--help")
    assert "solidflow.cli.run_commands" in imported


@pytest.mark.parametrize(
    "package", [solidflow, solidflow.engine, solidflow.engine.instance], ids=lambda p: p.__name__
)
def test_every_export_is_found_and_listed(package):
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018
