"""The package as installed, laid out as a tree of links.

solidflow's subpackages live in top-level folders (engine/ is solidflow.engine, and so on),
which static tools (import-linter, mypy) cannot follow; `link_layout` links each source file
to its place under solidflow/, from pyproject's package-dir table."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _package_dirs() -> dict[str, str]:
    """Folder -> its place under solidflow/, from pyproject's package-dir table."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {
        folder: package.replace(".", "/") for package, folder in setuptools["package-dir"].items()
    }


def link_layout(tree: Path) -> None:
    """Lay out solidflow/ as installed in `tree` (links to the sources), replacing what was there."""
    shutil.rmtree(tree / "solidflow", ignore_errors=True)
    for folder, place in _package_dirs().items():
        for source in (ROOT / folder).rglob("*"):
            if source.suffix in (".py", ".typed") and source.is_file():
                link = tree / place / source.relative_to(ROOT / folder)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(source)


@contextmanager
def installed_layout() -> Iterator[Path]:
    """A temporary tree holding solidflow/ as installed, removed after."""
    with tempfile.TemporaryDirectory(prefix="solidflow-layout-") as tree:
        link_layout(Path(tree))
        yield Path(tree)
