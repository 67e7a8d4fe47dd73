"""What a notebook run by a notebook solid calls: `yield_output(value, name)` records an
output of the solid. Outside a run (a notebook opened by hand) it returns the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cloudpickle

_outputs_dir: Path | None = None


def begin(outputs_dir: str) -> None:
    """Called by the cell the notebook solid injects: where outputs go."""
    global _outputs_dir
    _outputs_dir = Path(outputs_dir)


def read_value(path: str) -> Any:
    """An input value the notebook solid saved for the notebook."""
    with open(path, "rb") as file:
        return cloudpickle.load(file)


def write_value(path: Path, value: Any) -> None:
    """Save `value` for the other side (solid or notebook), atomically."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as file:
        cloudpickle.dump(value, file)
    partial.replace(path)


def yield_output(value: Any, name: str = "result") -> Any:
    """Record `value` as output `name` of the notebook solid running this notebook."""
    if _outputs_dir is not None:
        write_value(_outputs_dir / f"{name}.pickle", value)
    return value
