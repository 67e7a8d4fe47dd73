"""Real user modules for key tests: written to a directory, imported, edited and imported
again as a new process would."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from types import ModuleType


class Project:
    """Modules in `root`, importable by name while the test runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, source: str) -> None:
        (self.root / f"{name}.py").write_text(textwrap.dedent(source))

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.root / f"{name}.py"
        text = path.read_text()
        assert old in text, f"{old!r} is not in {name}.py"
        path.write_text(text.replace(old, new))

    def forget(self) -> None:
        """Drop this project's modules, so that the next import reads the files again."""
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(self.root)):
                del sys.modules[name]
        importlib.invalidate_caches()

    def load(self, name: str) -> ModuleType:
        """Module `name` and those it imports, freshly imported from the files."""
        self.forget()
        return importlib.import_module(name)
