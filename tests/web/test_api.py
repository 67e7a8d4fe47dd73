"""The HTTP API against a real server in a subprocess, with a real SQLite instance."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import PIPELINES, ServerProcess, WebServer
from .sse import read_stream, wait_for_status

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]

GOOD = {"solids": {"load": {"config": {"rows": 20}}}}


def launch(web: WebServer, pipeline: str = "hello", **fields: Any) -> dict[str, Any]:
    body = {"pipeline": pipeline, "run_config": GOOD, **fields}
    response = web.client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_pipelines_are_listed_and_a_syntax_error_is_an_error_entry(web: WebServer) -> None:
    listing = web.client.get("/api/pipelines").json()
    assert {p["name"] for p in listing["pipelines"]} == {"hello", "sleepy", "nested"}
    hello = next(p for p in listing["pipelines"] if p["name"] == "hello")
    assert hello["solid_count"] == 3
    broken = next(loc for loc in listing["locations"] if loc["target"].endswith("broken.py:oops"))
    assert broken["pipelines"] == []
    assert "SyntaxError" in broken["error"] and "line 3" in broken["error"]
    reloaded = web.client.post("/api/workspace/reload")
    assert reloaded.status_code == 200
    assert len(reloaded.json()["pipelines"]) == 3


def test_a_pipeline_describes_its_solids_types_and_wiring(web: WebServer) -> None:
    nested = web.client.get("/api/pipelines/nested").json()
    solids = {s["name"]: s for s in nested["solids"]}
    assert set(solids) == {"load", "prepare.double", "total"}
    assert solids["prepare.double"]["composite"] == "prepare"
    assert solids["total"]["inputs"][0]["sources"] == [
        {"node": "prepare.double", "output": "result"}
    ]
    assert solids["load"]["outputs"] == [{"name": "result", "type": "int"}]
    assert solids["load"]["config_schema"]["required"] == ["rows"]
    assert nested["composites"] == [{"name": "prepare", "description": None}]
    schema = nested["modes"][0]["config_schema"]
    assert "solids" in schema["properties"]


def test_a_selection_query_picks_solids(web: WebServer) -> None:
    picked = web.client.get("/api/pipelines/hello/select", params={"query": "*double"}).json()
    assert picked["steps"] == ["load", "double"]
    bad = web.client.get("/api/pipelines/hello/select", params={"query": "nope+"})
    assert bad.status_code == 400
    assert bad.json()["error"]["kind"] == "selection"


def test_bad_config_is_a_typed_error_with_its_path(web: WebServer) -> None:
    body = {"pipeline": "hello", "run_config": {"solids": {"load": {"config": {"rows": "many"}}}}}
    response = web.client.post("/api/runs", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["kind"] == "config"
    assert [e["path"] for e in error["errors"]] == ["solids.load.config.rows"]
    validation = web.client.post(
        "/api/pipelines/hello/validate", json={"run_config": {"solids": {"lod": {}}}}
    ).json()
    assert not validation["valid"]
    paths = {e["path"] for e in validation["errors"]}
    assert "solids.lod" in paths
    assert web.client.post("/api/pipelines/hello/validate", json={"run_config": GOOD}).json() == {
        "valid": True,
        "errors": [],
        "steps": ["load", "double", "total"],
    }


def test_launch_and_stream_events_until_the_run_ends(web: WebServer) -> None:
    run = launch(web, tags={"team": "web"})
    assert run["status"] in ("STARTING", "STARTED") and run["tags"] == {"team": "web"}
    events, ids, ended = read_stream(web.client, run["run_id"])
    assert ended
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "RUN_START" and events[-1]["type"] == "RUN_SUCCESS"
    assert ids[-1] == events[-1]["seq"]
    assert {e["description"] for e in events if e["type"] == "EXPECTATION"} == {
        "expectation 'not negative' passed"
    }
    assert web.client.get(f"/api/runs/{run['run_id']}").json()["status"] == "SUCCESS"
    page = web.client.get(f"/api/runs/{run['run_id']}/events", params={"after": 2, "limit": 3})
    assert [e["seq"] for e in page.json()["events"]] == [3, 4, 5]
    assert page.json()["cursor"] == 5 and not page.json()["run_ended"]


def test_a_reconnecting_stream_resumes_without_gaps_or_duplicates(web: WebServer) -> None:
    run = launch(web)
    wait_for_status(web.client, run["run_id"], {"SUCCESS"})
    everything, _, _ = read_stream(web.client, run["run_id"])
    first, _, _ = read_stream(web.client, run["run_id"], last_event_id=-1)
    resumed, _, ended = read_stream(web.client, run["run_id"], last_event_id=6)
    assert ended
    assert [e["seq"] for e in resumed] == list(range(7, len(everything)))
    assert first == everything


def test_reexecute_a_subset(web: WebServer) -> None:
    parent = launch(web)
    wait_for_status(web.client, parent["run_id"], {"SUCCESS"})
    response = web.client.post(
        f"/api/runs/{parent['run_id']}/reexecute", json={"selection": "total"}
    )
    assert response.status_code == 201, response.text
    child = response.json()
    assert child["parent_run_id"] == parent["run_id"]
    events, _, _ = read_stream(web.client, child["run_id"])
    assert {e["step"] for e in events if e["type"] == "STEP_START"} == {"total"}
    assert events[-1]["type"] == "RUN_SUCCESS"


def test_cancel_a_long_run(web: WebServer) -> None:
    run = launch(web, pipeline="sleepy", run_config={})
    deadline = time.monotonic() + 60
    while not any(
        e["type"] == "STEP_START"
        for e in web.client.get(f"/api/runs/{run['run_id']}/events").json()["events"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    response = web.client.post(f"/api/runs/{run['run_id']}/cancel")
    assert response.status_code == 200, response.text
    ended = wait_for_status(web.client, run["run_id"], {"CANCELED", "FAILURE", "SUCCESS"}, 30)
    assert ended["status"] == "CANCELED"
    again = web.client.post(f"/api/runs/{run['run_id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["kind"] == "conflict"


def test_memo_status_says_what_is_stored_and_why_the_rest_runs(web: WebServer) -> None:
    config = {"solids": {"load": {"config": {"rows": 7}}}}
    run = launch(web, run_config=config)
    wait_for_status(web.client, run["run_id"], {"SUCCESS"})
    report = web.client.post("/api/pipelines/hello/memo", json={"run_config": config}).json()
    assert [(s["step"], s["memoized"]) for s in report["steps"]] == [
        ("load", True),
        ("double", True),
        ("total", True),
    ]
    assert {s["source_run_id"] for s in report["steps"]} == {run["run_id"]}
    changed = {"solids": {"load": {"config": {"rows": 8}}}}
    report = web.client.post("/api/pipelines/hello/memo", json={"run_config": changed}).json()
    reasons = {s["step"]: s["reason"] for s in report["steps"]}
    assert reasons["load"] == "runs: config changed"
    assert reasons["double"].startswith("runs: upstream changed")


def test_runs_are_filtered_paginated_and_deleted(web: WebServer) -> None:
    config = {"solids": {"load": {"config": {"rows": 31}}}}
    first = launch(web, run_config=config, tags={"batch": "b1"})
    wait_for_status(web.client, first["run_id"], {"SUCCESS"})
    second = launch(web, run_config=config, tags={"batch": "b1"})
    for run in (first, second):
        wait_for_status(web.client, run["run_id"], {"SUCCESS"})
    page = web.client.get("/api/runs", params={"tag": "batch=b1", "limit": 1}).json()
    assert [r["run_id"] for r in page["runs"]] == [second["run_id"]]
    rest = web.client.get(
        "/api/runs", params={"tag": "batch=b1", "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [r["run_id"] for r in rest["runs"]] == [first["run_id"]] and rest["next_cursor"] is None
    assert (
        web.client.get("/api/runs", params={"pipeline": "sleepy", "status": "SUCCESS"}).json()[
            "runs"
        ]
        == []
    )
    stored = web.client.get("/api/store", params={"run_id": first["run_id"]}).json()
    assert {o["step"] for o in stored["outputs"]} == {"load", "double", "total"}
    deleted = web.client.post(
        "/api/runs/delete", json={"run_ids": [first["run_id"], second["run_id"]]}
    )
    assert deleted.json() == {"deleted": [first["run_id"], second["run_id"]]}
    assert web.client.get(f"/api/runs/{first['run_id']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/runs/nope"),
        ("GET", "/api/runs/nope/events"),
        ("GET", "/api/runs/nope/events/stream"),
        ("POST", "/api/runs/nope/reexecute"),
        ("POST", "/api/runs/nope/cancel"),
        ("DELETE", "/api/runs/nope"),
        ("GET", "/api/pipelines/nope"),
        ("POST", "/api/pipelines/nope/validate"),
        ("GET", "/api/no/such/route"),
    ],
)
def test_unknown_ids_are_clean_404s(web: WebServer, method: str, path: str) -> None:
    response = web.client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    assert response.json()["error"]["kind"] == "not_found"


def test_a_mutation_from_another_site_is_refused(web: WebServer) -> None:
    before = len(web.client.get("/api/runs", params={"limit": 1000}).json()["runs"])
    body = {"pipeline": "hello", "run_config": GOOD}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Referer": "http://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        response = web.client.post("/api/runs", json=body, headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["error"]["kind"] == "forbidden"
    rebound = web.client.get("/api/runs", headers={"Host": "evil.example"})
    assert rebound.status_code == 403
    assert len(web.client.get("/api/runs", params={"limit": 1000}).json()["runs"]) == before
    same_site = web.client.post(
        "/api/pipelines/hello/validate", json={"run_config": GOOD}, headers={"Origin": web.url}
    )
    assert same_site.status_code == 200


def test_the_openapi_document_describes_the_api(web: WebServer) -> None:
    document = web.client.get("/api/openapi.json").json()
    assert {
        "/api/runs",
        "/api/runs/{run_id}/events/stream",
        "/api/pipelines/{name}/validate",
    } <= set(document["paths"])
    assert "Error" in document["components"]["schemas"]


def test_a_read_only_server_refuses_mutations_but_answers_queries(tmp_path: Path) -> None:
    server = ServerProcess([f"{PIPELINES}:hello", "--read-only"], tmp_path / "home", tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            refused = client.post("/api/runs", json={"pipeline": "hello", "run_config": GOOD})
            assert refused.status_code == 403
            assert refused.json()["error"]["kind"] == "read_only"
            validation = client.post("/api/pipelines/hello/validate", json={"run_config": GOOD})
            assert validation.status_code == 200 and validation.json()["valid"]
            assert client.get("/api/pipelines").json()["read_only"]
    finally:
        server.stop()
