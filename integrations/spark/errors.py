"""Spark failures as one readable line instead of a Java stack dump."""

from __future__ import annotations

from typing import Any

_MAX_LENGTH = 1000


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _java_message(exc: Any) -> str | None:
    """The Java exception's own `toString`, for py4j errors that carry one."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        return None
    try:
        cause = java
        # The root cause usually says what went wrong (the outer ones say where).
        while cause.getCause() is not None and cause.getCause() != cause:
            cause = cause.getCause()
        outer, root = _first_line(java.toString()), _first_line(cause.toString())
    except Exception:  # the JVM may be gone already
        return None
    return outer if root == outer else f"{outer} (caused by {root})"


def _condensed(text: str) -> str:
    """The message lines of `text` joined into one, without JVM stack frames; for an error of
    a Python worker, the exception line that ends its traceback."""
    lines = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        if line.startswith("JVM stacktrace:"):
            break
        if line and not line.startswith("at "):
            lines.append(line)
    if "Traceback (most recent call last):" in lines:
        start = lines.index("Traceback (most recent call last):")
        traceback = lines[start + 1 :]
        ends = [line for line in traceback if not line.startswith("File ")]
        head = " ".join(lines[:start]).rstrip(".: ")
        return f"{head}: {ends[-1]}" if head and ends else (ends[-1] if ends else head)
    return " ".join(lines)


def spark_error_message(exc: BaseException) -> str:
    """What went wrong in `exc`, a PySpark, Spark Connect or py4j error, in one line."""
    message = _java_message(exc)
    if message is None:
        try:
            text = str(exc)
        except Exception:
            text = ""
        message = _condensed(text) or type(exc).__name__
    if len(message) > _MAX_LENGTH:
        message = message[: _MAX_LENGTH - 3] + "..."
    return message
