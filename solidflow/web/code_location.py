"""The web server's side of the code server: start it, ask it, restart it (reload)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_START_TIMEOUT = 120.0
_REQUEST_TIMEOUT = 120.0


class CodeServerError(Exception):
    """The code server refused or failed a request.

    Args:
        kind: "config", "selection", "not_found", "user_code" or "unavailable".
        errors: (path, message) pairs, for config errors.
    """

    def __init__(self, kind: str, message: str, errors: Iterable[Sequence[str]] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = [(path, problem) for path, problem in errors]


class CodeLocation:
    """One code server process that loaded `targets`; `reload()` starts a fresh one."""

    def __init__(self, targets: list[str], cwd: Path, home: Path) -> None:
        self.targets = list(targets)
        self._cwd = cwd
        self._env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=40)
        self._locations: list[dict[str, Any]] | None = None

    def _start(self) -> None:
        self._answers = queue.Queue()
        self._stderr.clear()
        process = subprocess.Popen(
            [sys.executable, "-m", "solidflow.web.code_server", *self.targets],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self._cwd,
            env=self._env,
        )
        threading.Thread(
            target=self._pump, args=(process.stdout, self._answers), daemon=True
        ).start()
        threading.Thread(target=self._drain, args=(process.stderr,), daemon=True).start()
        self._process = process
        first = self._next_answer(_START_TIMEOUT)
        if json.loads(first).get("ready") is not True:
            raise CodeServerError("unavailable", f"the code server said {first!r} on start")

    @staticmethod
    def _pump(stream: Any, answers: queue.Queue[str | None]) -> None:
        for line in stream:
            answers.put(line)
        answers.put(None)

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self._stderr.append(line.rstrip())

    def _next_answer(self, timeout: float) -> str:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self._stop()
            raise CodeServerError(
                "unavailable",
                f"the code server gave no answer within {timeout:.0f} s; it was stopped",
            ) from None
        if line is None:
            self._stop()
            tail = "\n".join(self._stderr)
            raise CodeServerError("unavailable", f"the code server exited: {tail[-2000:]}")
        return line

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Ask the code server; its result, or CodeServerError."""
        with self._lock:
            if self._process is None:
                self._start()
            assert self._process is not None and self._process.stdin is not None
            request_id = next(self._ids)
            self._process.stdin.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
            self._process.stdin.flush()
            reply = json.loads(self._next_answer(_REQUEST_TIMEOUT))
        if "error" in reply:
            error = reply["error"]
            raise CodeServerError(error["kind"], error["message"], error.get("errors", []))
        result: dict[str, Any] = reply["result"]
        return result

    def locations(self) -> list[dict[str, Any]]:
        """Each target with its pipeline descriptions or its load error (cached until reload)."""
        if self._locations is None:
            self._locations = self.request("describe")["locations"]
        return self._locations

    def reload(self) -> list[dict[str, Any]]:
        """Import every target again in a fresh code server."""
        with self._lock:
            self._stop()
            self._locations = None
        return self.locations()

    def close(self) -> None:
        with self._lock:
            self._stop()
