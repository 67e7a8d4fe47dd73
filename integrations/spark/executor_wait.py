"""Whether an application submitted to a Spark standalone master waits for executors it cannot
get, and who holds the cluster's cores then: read from the master's JSON status (its web UI's
`/json/`), with the driver's starvation warning as the sign when that status cannot be read."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DEFAULT_WEB_UI_PORT = 8080
"""Where a standalone master serves its web UI unless SPARK_MASTER_WEBUI_PORT says otherwise."""
STARVATION_WARNING = "Initial job has not accepted any resources"
"""What a Spark driver logs while its first job gets no executors."""
CHECK_INTERVAL = 1.0
STATUS_RETRY = 30.0
"""Seconds before a master whose status could not be read is asked again (a web UI behind a
firewall that drops packets costs a read timeout each time)."""
_READ_TIMEOUT = 2.0
# Straight to the master, whatever http_proxy says: it is usually on the cluster's own network.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Status = Mapping[str, Any]


def master_web_uis(master: str, configured: str | None) -> list[str]:
    """The web UI URLs to ask for the status of `master`: `configured`, else, for a standalone
    master spark://HOST:PORT[,HOST2:PORT2...], each host on the default web UI port; none for
    other masters (local, YARN, Kubernetes), whose applications never wait on a standalone
    master."""
    if configured:
        return [configured.rstrip("/")]
    if not master.startswith("spark://"):
        return []
    hosts = [address.rpartition(":")[0] or address for address in master[8:].split(",")]
    return [f"http://{host}:{DEFAULT_WEB_UI_PORT}" for host in hosts if host]


def read_master_status(urls: Sequence[str]) -> tuple[Status | None, str]:
    """The JSON status of the master that leads (status ALIVE) among `urls`, and the URL it
    came from; else None and what went wrong."""
    problems = []
    for url in urls:
        try:
            with _OPENER.open(f"{url}/json/", timeout=_READ_TIMEOUT) as response:
                status = json.load(response)
        except (OSError, ValueError) as error:
            problems.append(f"{url}/json/: {getattr(error, 'reason', None) or error}")
            continue
        if isinstance(status, Mapping) and status.get("status") == "ALIVE":
            return status, url
        problems.append(f"{url}/json/: the master is not the leader")
    return None, "; ".join(problems) or "no master web UI to ask"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _has_room(status: Status, memory_per_executor: int) -> bool:
    """Whether some live worker could start one more executor of `memory_per_executor` MiB."""
    return any(
        worker.get("state") == "ALIVE"
        and worker.get("coresfree", 0) >= 1
        and worker.get("memoryfree", 0) >= memory_per_executor
        for worker in status.get("workers", [])
    )


def describe_holders(status: Status, app: Status) -> str:
    """What keeps `app` from executors: the cluster's free cores and memory against what one
    of its executors needs, and the applications that hold the cores, most first."""
    workers = [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]
    cores = sum(w.get("cores", 0) for w in workers)
    free_cores = sum(w.get("coresfree", 0) for w in workers)
    free_memory = max((w.get("memoryfree", 0) for w in workers), default=0)
    holders = sorted(
        (other for other in status.get("activeapps", []) if other.get("cores", 0) > 0),
        key=lambda other: (-other.get("cores", 0), str(other.get("id"))),
    )
    held = ", ".join(
        f"{other.get('id')} '{other.get('name')}' ({_plural(other['cores'], 'core')})"
        for other in holders
    )
    need = app.get("memoryperexecutor", app.get("memoryperslave", 0))
    text = (
        f"the cluster's {_plural(cores, 'live core')} have {free_cores} free and its workers at "
        f"most {free_memory} MiB of memory free, an executor of it needs 1 core and {need} MiB"
    )
    return (
        f"{text}; the cores are held by {held}" if held else f"{text}; no application holds cores"
    )


class ExecutorWait:
    """Watches a submitted application until it has executors; `starved` says why it was given
    up once it waited `wait` seconds for executors the cluster has no room for."""

    def __init__(
        self,
        urls: Sequence[str],
        wait: float,
        demand_shown_by_log: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`demand_shown_by_log`: an application without executors may not want any yet (with
        dynamic allocation); it is starved only once its driver logs STARVATION_WARNING."""
        self._urls = list(urls)
        self._wait = wait
        self._demand_shown_by_log = demand_shown_by_log
        self._clock = clock
        self._next_check = 0.0
        self._waiting_since: float | None = None
        self._unread_until = 0.0
        self._unread_because = ""
        self.done = not self._urls

    def starved(
        self, application_id: Callable[[], str | None], driver_log: Callable[[], str]
    ) -> str | None:
        """Why the application is given up, None while it may still get executors. Asks the
        master at most once per CHECK_INTERVAL, once the application has an id; stops asking
        once it has executors."""
        now = self._clock()
        if self.done or now < self._next_check:
            return None
        self._next_check = now + CHECK_INTERVAL
        app_id = application_id()
        if app_id is None:
            return None
        if now < self._unread_until:
            status, source = None, self._unread_because
        else:
            status, source = read_master_status(self._urls)
            if status is None:
                self._unread_until, self._unread_because = now + STATUS_RETRY, source
        app = None
        if status is not None:
            app = next((a for a in status.get("activeapps", []) if a.get("id") == app_id), None)
        if app is not None and app.get("cores", 0) > 0:
            self.done = True
            return None
        starving = app is not None and not _has_room(status or {}, app.get("memoryperexecutor", 0))
        if status is None or self._demand_shown_by_log:
            starving = STARVATION_WARNING in driver_log() and (status is None or starving)
        if not starving:
            self._waiting_since = None
            return None
        if self._waiting_since is None:
            self._waiting_since = now
        if now - self._waiting_since < self._wait:
            return None
        reason = f"got no executors within {self._wait:g}s and was stopped"
        if status is None or app is None:
            return (
                f"{reason}: its driver says '{STARVATION_WARNING}' (the master's status, which "
                f"names the applications holding the cores, could not be read: {source})"
            )
        return f"{reason}: {describe_holders(status, app)} (the master's status, {source}/json/)"
