"""Load a pipeline from a target: "path/to/file.py:name", "package.module:name", or without
":name" when the file or module defines exactly one pipeline."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

from solidflow.definitions.broken import BrokenDefinition, definition_errors_deferred
from solidflow.definitions.composite import CompositeSolidDefinition
from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.errors import DefinitionError, TargetError


def _split(target: str) -> tuple[str, str | None]:
    location, sep, name = target.rpartition(":")
    if not sep or not location or "/" in name or name.endswith(".py"):
        return target, None
    return location, name


def target_location(target: str) -> str:
    """The file or module a target names ("path/file.py:name" -> "path/file.py")."""
    return _split(target)[0]


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}, line {exc.lineno})"
    if frames:
        return f" ({frames[-1].filename}, line {frames[-1].lineno})"
    return ""


FILE_MODULE_PREFIX = "solidflow_target_"
"""The name of a module loaded from a file by a target starts with this."""


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"{FILE_MODULE_PREFIX}{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module


def _is_file(location: str) -> bool:
    """Whether a target's location is a file path (else a module name)."""
    return location.endswith(".py") or "/" in location


def import_location(location: str) -> ModuleType:
    """The module a target's location names: a Python file or an importable module. A
    definition in it that fails is kept as broken (see solidflow.definitions.broken) so that
    its other pipelines load.

    Raises:
        TargetError: it cannot be found or fails to import (the message says where).
    """
    try:
        with definition_errors_deferred():
            if _is_file(location):
                return _import_file(Path(location).resolve())
            if "" not in sys.path and "." not in sys.path:
                sys.path.insert(0, "")
            return importlib.import_module(location)
    except (TargetError, DefinitionError):
        raise
    except Exception as exc:
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
        if missing and (missing == location or location.startswith(missing + ".")):
            raise TargetError(f"no module named '{location}'") from None
        problem = exc.msg if isinstance(exc, SyntaxError) else exc  # str() adds its place
        raise TargetError(
            f"could not load '{location}': {type(exc).__name__}: {problem}{_where(exc)}"
        ) from None


def _kind(value: object) -> str:
    """What `value` is, for a message: "a solid", "a class", "a function", "an int"..."""
    if isinstance(value, SolidDefinition):
        return "a solid"
    if isinstance(value, CompositeSolidDefinition):
        return "a composite solid"
    if inspect.isclass(value):
        return "a class"
    if inspect.isroutine(value):
        return "a function"
    if isinstance(value, ModuleType):
        return "a module"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def load_pipeline(target: str) -> tuple[PipelineDefinition, str]:
    """The pipeline named by `target`, and the target in a form that loads it from anywhere."""
    location, name = _split(target)
    module = import_location(location)
    pipelines = {
        attr: value for attr, value in vars(module).items() if isinstance(value, PipelineDefinition)
    }
    broken = {
        attr: value
        for attr, value in vars(module).items()
        if isinstance(value, BrokenDefinition) and value.kind == "pipeline"
    }
    found = ", ".join(sorted(pipelines)) or "none"
    if broken:
        found += f"; failed to define: {', '.join(sorted(broken))}"
    if name is None:
        if len(pipelines) + len(broken) != 1:
            count = len(pipelines) + len(broken)
            raise TargetError(
                f"'{location}' defines {count} pipelines ({found}); name one as "
                f"'{location}:<pipeline>'"
            )
        name = next(iter({**pipelines, **broken}))
    value = getattr(module, name, None)
    if isinstance(value, BrokenDefinition):
        value.fail()
    if not isinstance(value, PipelineDefinition):
        if value is None:
            raise TargetError(f"'{location}' has no attribute '{name}' (pipelines there: {found})")
        raise TargetError(
            f"'{name}' in '{location}' is not a pipeline but {_kind(value)} (pipelines "
            f"there: {found})"
        )
    if _is_file(location):
        location = str(Path(location).resolve())
    return value, f"{location}:{name}"
