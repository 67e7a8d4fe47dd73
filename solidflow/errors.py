"""Errors raised by solidflow.

SolidflowError
├── DefinitionError    a pipeline, solid, resource or type is defined wrongly (raised at decoration time)
├── ConfigError        run_config does not match the pipeline's schema (.errors lists every problem)
│   └── RunArgumentError  a run's mode or executor argument names none that exists
├── SelectionError     a solid selection names unknown solids or has bad syntax
├── TargetError        a pipeline target ("file.py:name", "module:name") cannot be loaded
├── RunNotFoundError   no run has the id, unique id prefix or "latest" given
├── ReexecutionError   a run cannot be re-executed (unknown run, outputs it needs are not stored)
├── RunRequestError    a run cannot be launched or canceled (unknown run, or its status forbids it)
├── ExecutorError      the executor cannot run steps (a Ray cluster that cannot be reached or was lost)
├── EventLogError      the event log cannot be used: its file is damaged or read-only, its disk full
└── StepFailure        a step failed during a run with raise_on_error=True (carries the original error)
"""

from __future__ import annotations

from collections.abc import Sequence


class SolidflowError(Exception):
    """Base class of every error solidflow raises on purpose."""


class DefinitionError(SolidflowError):
    """A pipeline, solid, resource or type is defined wrongly.

    Attributes:
        run_id: the run recorded as failed because of this error, if one was recorded.
    """

    run_id: str | None = None


class ConfigError(SolidflowError):
    """run_config does not match the pipeline's config schema.

    Attributes:
        errors: every problem found, as (dotted path, message) pairs.
        run_id: the run recorded as failed because of this error, if one was recorded.
    """

    def __init__(self, errors: Sequence[tuple[str, str]], run_id: str | None = None) -> None:
        self.errors = list(errors)
        self.run_id = run_id
        lines = [f"{path}: {message}" if path else message for path, message in self.errors]
        count = len(lines)
        head = f"invalid run config ({count} problem{'s' if count != 1 else ''})"
        super().__init__(head + ":\n" + "\n".join(f"  {line}" for line in lines))


class RunArgumentError(ConfigError):
    """A run's mode or executor argument names none that exists. A ConfigError (so code that
    catches those catches it too) whose message is the problem alone, not 'invalid run config'."""

    def __init__(self, errors: Sequence[tuple[str, str]], run_id: str | None = None) -> None:
        super().__init__(errors, run_id)
        Exception.__init__(self, "\n".join(message for _, message in self.errors))


class SelectionError(SolidflowError):
    """A solid selection names unknown solids or has bad syntax.

    Attributes:
        run_id: the run recorded as failed because of this error, if one was recorded.
    """

    run_id: str | None = None


class TargetError(SolidflowError):
    """A pipeline target cannot be found or loaded."""


class RunNotFoundError(SolidflowError):
    """No run has the id given, no run or several runs start with the prefix given, or there
    is no run at all ("latest")."""


class ReexecutionError(SolidflowError):
    """A run cannot be re-executed: it is unknown, or outputs it needs are not stored."""


class ExecutorError(SolidflowError):
    """The executor cannot run steps: say, its Ray cluster cannot be reached or was lost. The
    run ends as failed with this message."""


class StepFailure(SolidflowError):
    """A step failed during a run started with raise_on_error=True.

    Attributes:
        step: the key of the failed step (None when resource teardown failed).
        run_id: the run the step belonged to.
        original: the exception the solid raised, when it is available in this process.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None,
        run_id: str | None,
        original: BaseException | None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.run_id = run_id
        self.original = original


class RunRequestError(SolidflowError):
    """A run cannot be launched or canceled: it is unknown, or its status does not allow it."""


class EventLogError(SolidflowError):
    """The event log cannot be read or written.

    Attributes:
        path: the event log's location.
        reason: "damaged" (`solidflow recover` repairs it), "read-only", "full" (no space
            left on its device) or "unavailable".
    """

    def __init__(self, message: str, *, path: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
