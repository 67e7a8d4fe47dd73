"""Reading the server's event streams in tests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx


def read_stream(
    client: httpx.Client, run_id: str, last_event_id: int | None = None, timeout: float = 120
) -> tuple[list[dict[str, Any]], list[int | None], bool]:
    """Read the SSE stream of a run: its events, the id of each message, whether it ended."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    events: list[dict[str, Any]] = []
    ids: list[int | None] = []
    ended = False
    deadline = time.monotonic() + timeout
    with client.stream("GET", f"/api/runs/{run_id}/events/stream", headers=headers) as response:
        assert response.status_code == 200, response.read()
        kind, data, event_id = None, None, None
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "the stream did not end in time"
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line.startswith("id: "):
                event_id = int(line[4:])
            elif line == "" and kind is not None:
                if kind == "events":
                    events.extend(json.loads(data))
                    ids.append(event_id)
                elif kind == "end":
                    ended = True
                    break
                kind, data, event_id = None, None, None
    return events, ids, ended


def wait_for_status(
    client: httpx.Client, run_id: str, statuses: set[str], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.1)
