"""Check the import contracts in pyproject.toml ([tool.importlinter]) with import-linter.

import-linter cannot follow solidflow's package-dir mapping; this runs `lint-imports` on the
package laid out as installed (see installed_layout.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from installed_layout import ROOT, installed_layout


def main() -> int:
    with installed_layout() as tree:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        lint = Path(sys.executable).with_name("lint-imports")
        config = ROOT / "pyproject.toml"
        return subprocess.run([str(lint), str(config)], env=env, cwd=tree).returncode


if __name__ == "__main__":
    sys.exit(main())
