"""The UI in real headless Chromium: pages render, config errors show on the right line, a
launched run reaches SUCCESS in the timeline, one step is re-executed from the run page.
Each test saves a screenshot of its page to test-artifacts/screenshots."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import WebServer, screenshot
from .sse import wait_for_status

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]

INVALID = "solids:\n  load:\n    config:\n      rows: many\n"
VALID = "solids:\n  load:\n    config:\n      rows: 12\n"


def set_editor_text(page: Any, text: str) -> None:
    page.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_the_pipelines_page_lists_pipelines_and_the_broken_target(
    page: Any, web: WebServer
) -> None:
    page.goto(f"{web.url}/#/pipelines")
    expect(page.get_by_role("link", name="hello", exact=True)).to_be_visible()
    card = page.locator(".location-error")
    expect(card).to_contain_text("broken.py:oops")
    expect(card).to_contain_text("SyntaxError")
    screenshot(page, "pipelines")


def test_the_pipeline_page_draws_the_dag_with_composites_and_selections(
    page: Any, web: WebServer
) -> None:
    page.goto(f"{web.url}/#/pipelines/nested")
    expect(page.locator("g.node")).to_have_count(3)
    expect(page.locator("g.cluster")).to_contain_text("prepare")
    expect(page.locator("g.edge text").first).to_contain_text("result: int")
    page.get_by_role("button", name="Collapse composites").click()
    expect(page.locator("g.node.collapsed")).to_contain_text("1 solids")
    page.get_by_role("button", name="Expand composites").click()
    page.locator(".selection-input").fill("load+")
    page.get_by_role("button", name="Select", exact=True).click()
    expect(page.locator("g.node.highlight")).to_have_count(2)
    page.locator('g.node[data-step="load"]').click()
    expect(page.locator(".solid-panel")).to_contain_text("How many rows there are.")
    expect(page.locator(".solid-panel")).to_contain_text("rows")
    screenshot(page, "pipeline")


def test_launch_from_the_launchpad_then_reexecute_one_step(page: Any, web: WebServer) -> None:
    page.goto(f"{web.url}/#/pipelines/hello/launchpad")
    page.locator(".cm-content").click()
    page.keyboard.type("so")
    expect(page.locator(".cm-tooltip-autocomplete")).to_contain_text("solids")
    page.keyboard.press("Escape")

    set_editor_text(page, INVALID)
    problem = page.locator(".problem")
    expect(problem).to_contain_text("line 4")
    expect(problem).to_contain_text("solids.load.config.rows")
    expect(page.locator(".cm-lintRange-error")).to_have_text("many")
    expect(page.get_by_role("button", name="Launch run")).to_be_disabled()
    screenshot(page, "launchpad")

    set_editor_text(page, VALID)
    expect(page.locator(".problems.ok")).to_be_visible()
    page.get_by_role("button", name="Launch run").click()
    expect(page).to_have_url(re.compile(r"#/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".page-head .badge")).to_have_text("SUCCESS", timeout=60_000)
    rows = page.locator(".gantt-row")
    expect(rows).to_have_count(3)
    for step in ("load", "double", "total"):
        expect(page.locator(f'.gantt-row[data-step="{step}"]')).to_have_attribute(
            "data-status", "success"
        )
    expect(page.locator("table.steps")).to_contain_text("total")
    expect(page.locator(".log")).to_contain_text("doubling 12")
    expect(page.locator("body")).to_contain_text("not negative")
    screenshot(page, "run")

    page.locator('.gantt-row[data-step="total"]').click()
    page.get_by_role("button", name="Re-execute selected (1)").click()
    expect(page).not_to_have_url(re.compile(run_id))
    child_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".page-head .badge")).to_have_text("SUCCESS", timeout=60_000)
    expect(page.locator(".page-head")).to_contain_text(f"re-executes {run_id[:8]}")
    child = wait_for_status(web.client, child_id, {"SUCCESS"})
    assert child["parent_run_id"] == run_id
    events = web.client.get(f"/api/runs/{child_id}/events").json()["events"]
    assert {e["step"] for e in events if e["type"] == "STEP_START"} == {"total"}


def test_the_runs_page_lists_filters_and_deletes_runs(page: Any, web: WebServer) -> None:
    body = {"pipeline": "hello", "run_config": {"solids": {"load": {"config": {"rows": 5}}}}}
    run = web.client.post("/api/runs", json={**body, "tags": {"who": "browser"}}).json()
    wait_for_status(web.client, run["run_id"], {"SUCCESS"})
    page.goto(f"{web.url}/#/runs")
    expect(page.locator("table.runs")).to_contain_text(run["run_id"][:12])
    screenshot(page, "runs")
    page.get_by_placeholder("tag key=value").fill("who=browser")
    page.get_by_placeholder("tag key=value").press("Enter")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    page.get_by_label(f"select run {run['run_id']}").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected (1)").click()
    expect(page.locator("table.runs tbody tr")).to_have_count(0)
    assert web.client.get(f"/api/runs/{run['run_id']}").status_code == 404


def test_the_memo_view_says_which_steps_are_stored_and_why_others_run(
    page: Any, web: WebServer
) -> None:
    config = {"solids": {"load": {"config": {"rows": 77}}}}
    run = web.client.post("/api/runs", json={"pipeline": "hello", "run_config": config}).json()
    wait_for_status(web.client, run["run_id"], {"SUCCESS"})
    page.goto(f"{web.url}/#/pipelines/hello/memo")
    set_editor_text(page, "solids:\n  load:\n    config:\n      rows: 77\n")
    expect(page.locator(".problems.ok")).to_be_visible()
    page.get_by_role("button", name="Check memo status").click()
    expect(page.locator("section h2")).to_contain_text(
        "3 of 3 steps would be served from the store"
    )
    expect(page.locator('tr[data-step="load"]')).to_contain_text(run["run_id"][:8])
    set_editor_text(page, "solids:\n  load:\n    config:\n      rows: 78\n")
    expect(page.locator(".problems.ok")).to_be_visible()
    page.get_by_role("button", name="Check memo status").click()
    expect(page.locator('tr[data-step="load"]')).to_contain_text("config changed")
    expect(page.locator('tr[data-step="double"]')).to_contain_text("upstream changed")
    screenshot(page, "memo")
