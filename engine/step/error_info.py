"""Serialisable descriptions of errors raised by user code, with engine frames left out.

The message of an exception from a library whose errors carry more than a message (Spark's
Java stack dumps) comes from the error formatter registered for the library's top-level
package, with `register_error_formatter` or through the entry points of the group
"solidflow.error_formatters" (loaded when such an error is first described).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import solidflow.definitions
from solidflow.registry import PluginError, PluginRegistry

ErrorFormatter = Callable[[BaseException], str]
"""The message of an exception, in one line."""

ERROR_FORMATTERS: PluginRegistry[ErrorFormatter] = PluginRegistry(
    "solidflow.error_formatters", "error formatter"
)


def register_error_formatter(package: str, formatter: ErrorFormatter) -> ErrorFormatter:
    """Describe exceptions of classes defined in the top-level package `package` with
    `formatter`."""
    return ERROR_FORMATTERS.register(package, formatter)


_OWN_DIRS = tuple(
    os.path.dirname(os.path.dirname(os.path.abspath(path))) + os.sep
    for path in (solidflow.definitions.__file__, __file__)
)
"""The directories of the solidflow package and of its engine: their frames are left out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """An exception as plain data: class name, message and the user-code traceback."""

    error_class: str
    message: str
    traceback: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_class": self.error_class,
            "message": self.message,
            "traceback": self.traceback,
        }


def _is_own_frame(frame: traceback.FrameSummary) -> bool:
    filename = os.path.abspath(frame.filename)
    return filename.startswith(_OWN_DIRS)


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe `exc`; frames inside solidflow itself are dropped from the traceback."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__) if not _is_own_frame(frame)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    formatter = _formatter_for(exc)
    message = _safe_str(exc, formatter)
    if formatter is not None:  # the formatted message, not what str() gives (a stack dump)
        lines.append(f"{type(exc).__name__}: {message}\n")
    else:  # with notes, a SyntaxError's source line, the module of the class
        lines.extend(traceback.format_exception_only(type(exc), exc))
    return ErrorInfo(error_class=type(exc).__name__, message=message, traceback="".join(lines))


def _formatter_for(exc: BaseException) -> ErrorFormatter | None:
    package = type(exc).__module__.partition(".")[0]
    if package == "builtins":
        return None
    try:
        return ERROR_FORMATTERS.find(package)
    except PluginError:  # a broken formatter: the plain message still describes the error
        return None


def _safe_str(exc: BaseException, formatter: ErrorFormatter | None) -> str:
    try:
        return formatter(exc) if formatter is not None else str(exc)
    except Exception as broken:  # an exception whose __str__ itself raises
        return f"<message unavailable: __str__ raised {type(broken).__name__}>"
