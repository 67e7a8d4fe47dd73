"""Schedules, their ticks and previews, the run queue and sweeps through the HTTP API of a
real server (in a subprocess, with a real SQLite instance)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from solidflow.engine import Instance, create_run, launch_run, launch_sweep

from .conftest import PIPELINES, TICKS_AT, ServerProcess, WebServer, record_ticks
from .pipelines import hello

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]


def test_schedules_are_listed_with_state_next_ticks_and_last_tick(web: WebServer) -> None:
    record_ticks(web.home)
    listing = web.client.get("/api/schedules", params={"upcoming": 2}).json()
    by_name = {s["name"]: s for s in listing["schedules"]}
    assert list(by_name) == ["hourly_nested", "nightly_hello"]
    hourly = by_name["hourly_nested"]
    assert hourly["pipeline"] == "nested" and hourly["cron"] == "0 * * * *"
    assert hourly["timezone"] == "Europe/Berlin" and hourly["status"] == "STOPPED"
    assert hourly["description"] == "Nested, every hour; the odd hours have no config."
    first, second = hourly["next_ticks"]
    assert first % 3600 == 0 and second - first == 3600
    assert hourly["last_tick"]["tick_time"] == TICKS_AT - 1800
    assert hourly["last_tick"]["status"] == "SUCCESS"
    assert by_name["nightly_hello"]["last_tick"] is None
    problems = {p["location"]: p["message"] for p in listing["problems"]}
    assert [Path(where).name for where in problems] == ["broken.py"]
    assert "SyntaxError" in next(iter(problems.values()))


def test_ticks_are_paginated_newest_first_with_their_runs_and_errors(web: WebServer) -> None:
    record_ticks(web.home)
    page = web.client.get("/api/schedules/hourly_nested/ticks", params={"limit": 3}).json()
    assert [t["status"] for t in page["ticks"]] == ["SUCCESS", "FAILURE", "SUCCESS"]
    newest, failed = page["ticks"][0], page["ticks"][1]
    run = web.client.get(f"/api/runs/{newest['run_id']}").json()
    assert run["pipeline_name"] == "nested"
    assert run["run_config"] == {"solids": {"load": {"config": {"rows": 12}}}}
    assert run["tags"]["solidflow/tick"] == newest["key"]
    assert failed["run_id"] is None
    assert failed["error"] == "run_config_fn raised ValueError: no rows at 11:00"
    rest = web.client.get(
        "/api/schedules/hourly_nested/ticks", params={"limit": 3, "before": page["next_cursor"]}
    ).json()
    assert [t["status"] for t in rest["ticks"]] == ["FAILURE"]
    assert rest["ticks"][0]["tick_time"] == TICKS_AT - 4 * 3600 + 1800
    assert rest["next_cursor"] is None


def test_a_schedule_is_started_and_stopped(web: WebServer) -> None:
    started = web.client.post("/api/schedules/nightly_hello/start")
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "RUNNING"
    assert web.client.get("/api/schedules/nightly_hello").json()["status"] == "RUNNING"
    stopped = web.client.post("/api/schedules/nightly_hello/stop").json()
    assert stopped["status"] == "STOPPED"
    foreign = web.client.post(
        "/api/schedules/nightly_hello/start", headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    assert web.client.get("/api/schedules/nightly_hello").json()["status"] == "STOPPED"


def test_a_preview_gives_each_next_tick_its_config_and_problems(web: WebServer) -> None:
    preview = web.client.get("/api/schedules/nightly_hello/preview", params={"count": 2}).json()
    first, second = preview["ticks"]
    assert second["tick_time"] - first["tick_time"] == 86_400
    assert first["local_time"].endswith("T02:30:00+00:00")
    assert first["run_config"] == {"solids": {"load": {"config": {"rows": "many"}}}}
    assert len(first["problems"]) == 1
    assert first["problems"][0].startswith("solids.load.config.rows:")
    hourly = web.client.get("/api/schedules/hourly_nested/preview", params={"count": 2}).json()
    problems = [tick["problems"] for tick in hourly["ticks"]]
    assert sorted(len(p) for p in problems) == [0, 1]  # odd hours raise, even hours are fine


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/schedules/nope"),
        ("GET", "/api/schedules/nope/ticks"),
        ("GET", "/api/schedules/nope/preview"),
        ("POST", "/api/schedules/nope/start"),
        ("POST", "/api/schedules/nope/stop"),
        ("GET", "/api/sweeps/nope"),
    ],
)
def test_an_unknown_schedule_or_sweep_is_a_clean_404(
    web: WebServer, method: str, path: str
) -> None:
    response = web.client.request(method, path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["kind"] == "not_found" and "nope" in error["message"]


def test_the_queue_lists_queued_runs_in_start_order(web: WebServer) -> None:
    instance = Instance(web.home)
    config = {"solids": {"load": {"config": {"rows": 1}}}}
    target = f"{PIPELINES}:hello"
    low = create_run(hello, config, instance=instance, target=target).run_id
    high = create_run(hello, config, instance=instance, target=target, priority=5).run_id
    queued = web.client.get("/api/queue").json()["runs"]
    ids = [run["run_id"] for run in queued]
    assert ids.index(high) < ids.index(low)
    assert all(run["status"] == "QUEUED" for run in queued)
    assert queued[ids.index(high)]["priority"] == 5
    for run_id in (low, high):
        assert web.client.post(f"/api/runs/{run_id}/cancel").json()["status"] == "CANCELED"
    ids = [run["run_id"] for run in web.client.get("/api/queue").json()["runs"]]
    assert high not in ids and low not in ids


def test_a_sweep_summarises_its_points_with_metrics_and_steps(web: WebServer) -> None:
    instance = Instance(web.home)
    grid = {"solids.load.config.rows": [3, 4]}
    sweep = launch_sweep(hello, {}, grid, instance=instance, target=f"{PIPELINES}:hello")
    launched = [
        launch_run(each.run_id, instance=instance, launcher="subprocess") for each in sweep.runs
    ]
    for each in launched:
        assert each.wait(timeout=120).status.value == "SUCCESS"
        each.process.wait(timeout=60)  # type: ignore[attr-defined]
    summary = web.client.get(
        f"/api/sweeps/{sweep.sweep_id}", params={"metric": "double.value"}
    ).json()
    assert summary["ended"] is True
    rows = summary["rows"]
    assert [row["point"] for row in rows] == [
        {"solids.load.config.rows": 3},
        {"solids.load.config.rows": 4},
    ]
    assert [row["metrics"] for row in rows] == [{"double.value": 6}, {"double.value": 8}]
    assert all(row["status"] == "SUCCESS" and row["duration"] > 0 for row in rows)
    assert all(row["steps_computed"] + row["steps_served"] == 3 for row in rows)
    listed = web.client.get("/api/sweeps").json()["sweeps"]
    overview = next(s for s in listed if s["sweep_id"] == sweep.sweep_id)
    assert overview["pipeline"] == "hello" and overview["paths"] == ["solids.load.config.rows"]
    assert overview["statuses"] == {"SUCCESS": 2} and overview["ended"] is True


def test_a_read_only_server_refuses_to_start_a_schedule(tmp_path: Path) -> None:
    server = ServerProcess([f"{PIPELINES}:hello", "--read-only"], tmp_path / "home", tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            refused = client.post("/api/schedules/nightly_hello/start")
            assert refused.status_code == 403
            assert refused.json()["error"]["kind"] == "read_only"
            listing = client.get("/api/schedules").json()
            nightly = next(s for s in listing["schedules"] if s["name"] == "nightly_hello")
            assert nightly["status"] == "STOPPED"
    finally:
        server.stop()


def test_the_openapi_document_describes_schedules_queue_and_sweeps(web: WebServer) -> None:
    document = web.client.get("/api/openapi.json").json()
    assert {
        "/api/schedules",
        "/api/schedules/{name}/ticks",
        "/api/schedules/{name}/preview",
        "/api/schedules/{name}/start",
        "/api/queue",
        "/api/sweeps/{sweep_id}",
    } <= set(document["paths"])
    schemas = document["components"]["schemas"]
    assert {"ScheduleInfo", "TickPage", "SchedulePreview", "SweepInfo"} <= set(schemas)
