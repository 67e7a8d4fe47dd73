"""Type-check solidflow with mypy ([tool.mypy] in pyproject.toml).

mypy cannot follow solidflow's package-dir mapping (engine/ is solidflow.engine, ...); this
runs it on the package laid out as installed (see installed_layout.py), in .mypy_cache/ so
that the next run reuses mypy's cache. Errors are reported with the paths of the sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from installed_layout import ROOT, link_layout


def main() -> int:
    cache = ROOT / ".mypy_cache"
    tree = cache / "layout"
    tree.mkdir(parents=True, exist_ok=True)
    link_layout(tree)
    mypy = Path(sys.executable).with_name("mypy")
    config = ROOT / "pyproject.toml"
    command = [
        str(mypy),
        "--config-file",
        str(config),
        "--cache-dir",
        str(cache),
        "-p",
        "solidflow",
    ]
    checked = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    sys.stdout.write(_source_paths(checked.stdout, tree))
    sys.stderr.write(checked.stderr)
    return checked.returncode


def _source_paths(report: str, tree: Path) -> str:
    """Each `path/in/tree.py:` of mypy's report as the path of its source in the repository."""
    lines = []
    for line in report.splitlines(keepends=True):
        path, colon, rest = line.partition(":")
        linked = tree / path
        if colon and linked.is_symlink():
            path = str(linked.resolve().relative_to(ROOT))
        lines.append(path + colon + rest)
    return "".join(lines)


if __name__ == "__main__":
    sys.exit(main())
