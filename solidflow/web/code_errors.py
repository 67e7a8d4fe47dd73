"""How the code server refuses a request."""

from __future__ import annotations

from collections.abc import Sequence


class RequestError(Exception):
    """A request the code server cannot answer; `errors` are (path, message) pairs."""

    def __init__(self, kind: str, message: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = list(errors)
