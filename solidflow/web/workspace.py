"""The workspace file: the pipeline targets `solidflow ui` serves.

# workspace.yaml
targets:
  - pipelines/nightly.py:nightly      # a file (relative to this file's folder)
  - mypackage.pipelines:hourly        # a module, importable from this file's folder
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from solidflow.errors import SolidflowError


class WorkspaceError(SolidflowError):
    """The workspace file is missing or malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """Pipeline targets, and the folder their relative paths and modules are found from."""

    targets: tuple[str, ...]
    root: Path


def load_workspace(path: str | Path) -> Workspace:
    """The workspace described by the YAML file at `path`."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise WorkspaceError(f"cannot read workspace file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise WorkspaceError(f"workspace file {path} is not valid YAML: {error}") from None
    targets = document.get("targets") if isinstance(document, dict) else None
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise WorkspaceError(
            f"workspace file {path}: expected 'targets:' with a list of pipeline targets "
            "('path/file.py:pipeline' or 'package.module:pipeline')"
        )
    return Workspace(targets=tuple(targets), root=path.resolve().parent)
