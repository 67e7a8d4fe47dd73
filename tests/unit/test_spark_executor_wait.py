"""When a spark-submit application is given up for lack of executors, from a standalone
master's status (a canned one here; the real master is in tests/integration/test_spark.py)."""

from __future__ import annotations

from typing import Any

import pytest

from solidflow.integrations.spark import executor_wait
from solidflow.integrations.spark.executor_wait import (
    STARVATION_WARNING,
    ExecutorWait,
    master_web_uis,
)

APP = "app-20260101000000-0002"
UI = "http://master:8080"


def status(app_cores: int = 0, cores_free: int = 0, memory_free: int = 0) -> dict[str, Any]:
    worker = {"state": "ALIVE", "cores": 2, "coresfree": cores_free, "memoryfree": memory_free}
    apps = [
        {"id": "app-20260101000000-0000", "name": "Spark Connect server", "cores": 1},
        {"id": "app-20260101000000-0001", "name": "etl", "cores": 1},
        {"id": APP, "name": "solidflow:step", "cores": app_cores, "memoryperexecutor": 512},
    ]
    return {"status": "ALIVE", "workers": [worker], "activeapps": apps}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch(
    monkeypatch: pytest.MonkeyPatch, found: dict[str, Any] | None, dynamic: bool = False
) -> tuple[ExecutorWait, Clock]:
    answer = (found, UI) if found is not None else (None, f"{UI}/json/: Connection refused")
    monkeypatch.setattr(executor_wait, "read_master_status", lambda urls: answer)
    clock = Clock()
    return ExecutorWait([UI], wait=5, demand_shown_by_log=dynamic, clock=clock), clock


def ask(waiting: ExecutorWait, clock: Clock, at: float, log: str = "") -> str | None:
    clock.now = at
    return waiting.starved(lambda: APP, lambda: log)


def test_the_master_web_ui_is_the_configured_one_else_each_master_host_on_port_8080() -> None:
    assert master_web_uis("spark://a:7077,b:7078", None) == ["http://a:8080", "http://b:8080"]
    assert master_web_uis("spark://a:7077", "http://a:9090/") == ["http://a:9090"]
    assert master_web_uis("local[2]", None) == []
    assert master_web_uis("yarn", None) == []


def test_an_application_the_cluster_has_no_room_for_is_given_up_after_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting, clock = watch(monkeypatch, status())
    assert ask(waiting, clock, 0.0) is None
    assert ask(waiting, clock, 4.0) is None
    reason = ask(waiting, clock, 5.0)
    assert reason == (
        "got no executors within 5s and was stopped: the cluster's 2 live cores have 0 free and "
        "its workers at most 0 MiB of memory free, an executor of it needs 1 core and 512 MiB; "
        "the cores are held by app-20260101000000-0000 'Spark Connect server' (1 core), "
        "app-20260101000000-0001 'etl' (1 core) (the master's status, http://master:8080/json/)"
    )


@pytest.mark.parametrize(
    "found", [status(app_cores=1), status(cores_free=1, memory_free=1024)], ids=["got", "room"]
)
def test_an_application_with_executors_or_room_for_them_is_not_given_up(
    monkeypatch: pytest.MonkeyPatch, found: dict[str, Any]
) -> None:
    waiting, clock = watch(monkeypatch, found)
    assert [ask(waiting, clock, at) for at in (0.0, 10.0, 60.0)] == [None] * 3


def test_waiting_starts_again_when_the_cluster_had_room_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting, clock = watch(monkeypatch, status())
    assert ask(waiting, clock, 0.0) is None
    monkeypatch.setattr(executor_wait, "read_master_status", lambda urls: (status(0, 1, 512), UI))
    assert ask(waiting, clock, 3.0) is None  # room: an executor may be starting
    monkeypatch.setattr(executor_wait, "read_master_status", lambda urls: (status(), UI))
    assert ask(waiting, clock, 6.0) is None
    assert ask(waiting, clock, 10.0) is None
    assert ask(waiting, clock, 11.0) is not None


def test_without_the_masters_status_the_drivers_warning_tells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting, clock = watch(monkeypatch, None)
    assert ask(waiting, clock, 0.0) is None
    assert ask(waiting, clock, 10.0) is None  # no warning: it may be working in the driver
    warned = f"26/01/01 00:00:15 WARN TaskSchedulerImpl: {STARVATION_WARNING}; check your UI"
    assert ask(waiting, clock, 11.0, warned) is None
    reason = ask(waiting, clock, 16.0, warned)
    assert reason == (
        f"got no executors within 5s and was stopped: its driver says '{STARVATION_WARNING}' "
        "(the master's status, which names the applications holding the cores, could not be "
        "read: http://master:8080/json/: Connection refused)"
    )


def test_with_dynamic_allocation_only_the_drivers_warning_shows_it_wants_executors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting, clock = watch(monkeypatch, status(), dynamic=True)
    assert [ask(waiting, clock, at) for at in (0.0, 10.0, 60.0)] == [None] * 3
    warned = STARVATION_WARNING
    assert ask(waiting, clock, 61.0, warned) is None
    assert "the cores are held by" in (ask(waiting, clock, 66.0, warned) or "")


def test_a_master_whose_status_cannot_be_read_is_asked_again_only_after_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting, clock = watch(monkeypatch, None)
    asked: list[float] = []
    monkeypatch.setattr(
        executor_wait, "read_master_status", lambda urls: asked.append(clock.now) or (None, "x")
    )
    for second in range(40):
        ask(waiting, clock, float(second))
    assert asked == [0.0, executor_wait.STATUS_RETRY]
