"""Check the import contracts in pyproject.toml ([tool.importlinter]) with import-linter.

solidflow's subpackages live in top-level folders (engine/ is solidflow.engine, and so on),
which import-linter cannot follow; this lays them out in a temporary tree of links, as the
installed package is, and runs `lint-imports` on that tree."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="solidflow-imports-") as tree:
        for folder, place in _package_dirs().items():
            for source in (ROOT / folder).rglob("*.py"):
                link = Path(tree) / place / source.relative_to(ROOT / folder)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(source)
        env = {**os.environ, "PYTHONPATH": tree}
        lint = Path(sys.executable).with_name("lint-imports")
        config = ROOT / "pyproject.toml"
        return subprocess.run([str(lint), str(config)], env=env, cwd=tree).returncode


if __name__ == "__main__":
    sys.exit(main())
