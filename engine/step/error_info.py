"""Serialisable descriptions of errors raised by user code, with engine frames left out."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import Any

import solidflow.definitions

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
    message = _safe_str(exc)
    if _is_spark_error(exc):  # the one-line message, not the Java stack dump
        lines.append(f"{type(exc).__name__}: {message}\n")
    else:  # with notes, a SyntaxError's source line, the module of the class
        lines.extend(traceback.format_exception_only(type(exc), exc))
    return ErrorInfo(error_class=type(exc).__name__, message=message, traceback="".join(lines))


def _is_spark_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("pyspark.", "py4j."))


def _safe_str(exc: BaseException) -> str:
    try:
        if _is_spark_error(exc):
            from solidflow.integrations.spark.errors import spark_error_message

            return spark_error_message(exc)
        return str(exc)
    except Exception as broken:  # an exception whose __str__ itself raises
        return f"<message unavailable: __str__ raised {type(broken).__name__}>"
