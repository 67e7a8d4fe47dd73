"""What every test session shares: hypothesis profiles, and tests that need an optional extra.

A test that needs an extra is marked with its name (`ray`, `spark`, `notebook`, `dbt`, `web`; see
pyproject.toml). When an extra is not installed, the tests marked with it are deselected and
the test modules that fail to import because of it are left out, and the session ends with
one line per missing extra. The CI profile (SOLIDFLOW_TEST_PROFILE=ci, set by .ci/run) runs
every test, so there a missing extra is an error.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import settings

from .backends import backend, storage  # noqa: F401  (fixtures)
from .servers import postgres_server, postgres_url, s3_root, s3_server  # noqa: F401  (fixtures)

PROFILE_VARIABLE = "SOLIDFLOW_TEST_PROFILE"
PROFILE = os.environ.get(PROFILE_VARIABLE, "dev")

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True)
settings.load_profile(PROFILE)


@dataclass(frozen=True)
class Extra:
    """An optional extra of solidflow: the modules it installs that tests import."""

    name: str
    modules: tuple[str, ...]


EXTRAS = {
    "ray": Extra("ray", ("ray",)),
    "spark": Extra("spark", ("pyspark",)),
    "notebook": Extra("notebook", ("papermill", "nbformat")),
    "dbt": Extra("dbt", ("dbt", "duckdb")),
    "web": Extra("web", ("fastapi", "uvicorn", "playwright")),
    "postgres": Extra("postgres", ("psycopg", "psycopg_pool")),
}
"""Each marker of tests that need an extra, and that extra."""

CLUSTER_FIXTURES = {
    "ray_address": "ray",
    "spark_cluster": "spark",
    "postgres_server": "postgres",
}
"""Fixtures that start a cluster, and the marker that tests using them must carry."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None
        return False


MISSING = {
    marker: extra
    for marker, extra in EXTRAS.items()
    if not all(_installed(module) for module in extra.modules)
}
"""The markers whose extra is not installed."""


@dataclass
class _LeftOut:
    modules: dict[str, list[str]] = field(default_factory=dict)
    tests: dict[str, int] = field(default_factory=dict)


_LEFT_OUT = pytest.StashKey[_LeftOut]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_LEFT_OUT] = _LeftOut()
    if MISSING and PROFILE == "ci":
        names = ", ".join(f"'solidflow[{extra.name}]'" for extra in MISSING.values())
        raise pytest.UsageError(f"the CI profile runs every test; install {names}")


def _missing_marker(error: BaseException | None) -> str | None:
    """The marker of the missing extra that `error` (an import error) is about, if any."""
    name = getattr(error, "name", None) or ""
    top = name.split(".", 1)[0]
    for marker, extra in MISSING.items():
        if top in extra.modules:
            return marker
    return None


class _ModuleNeedingExtras(pytest.Module):
    """A test module that is left out, not failed, when it imports a missing extra."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:  # type: ignore[override]
        try:
            self.obj  # noqa: B018  (imports the module)
        except self.CollectError as error:
            marker = _missing_marker(error.__cause__)
            if marker is None:
                raise
            left_out = self.config.stash[_LEFT_OUT]
            left_out.modules.setdefault(marker, []).append(self.nodeid)
            return iter(())
        return iter(super().collect())


def pytest_pycollect_makemodule(module_path, parent):  # type: ignore[no-untyped-def]
    if MISSING:
        return _ModuleNeedingExtras.from_parent(parent, path=module_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in CLUSTER_FIXTURES.items():
            if fixture in item.fixturenames and item.get_closest_marker(marker) is None:
                raise pytest.UsageError(
                    f"{item.nodeid} uses the {fixture} fixture: mark it @pytest.mark.{marker}"
                )
    if not MISSING:
        return
    left_out = config.stash[_LEFT_OUT]
    kept, deselected = [], []
    for item in items:
        marker = next((m for m in MISSING if item.get_closest_marker(m) is not None), None)
        if marker is None:
            kept.append(item)
        else:
            deselected.append(item)
            left_out.tests[marker] = left_out.tests.get(marker, 0) + 1
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    left_out = config.stash[_LEFT_OUT]
    for marker, extra in MISSING.items():
        counts = []
        if marker in left_out.tests:
            counts.append(f"{left_out.tests[marker]} tests marked {marker} deselected")
        if marker in left_out.modules:
            counts.append(f"{len(left_out.modules[marker])} test modules not collected")
        what = "; ".join(counts) or f"tests marked {marker} are left out"
        terminalreporter.write_line(
            f"solidflow[{extra.name}] is not installed ({', '.join(extra.modules)}): {what}; "
            f"pip install 'solidflow[{extra.name}]' to run them",
            yellow=True,
        )


@pytest.fixture(autouse=True)
def solidflow_logger_restored() -> Iterator[None]:
    """Put the "solidflow" logger back as it was after each test: a command invoked in the
    test's process (CliRunner) sets it to print warnings itself and not propagate them, which
    would hide them from later tests' caplog."""
    logger = logging.getLogger("solidflow")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate, logger.level = propagate, level
