"""The Schedules, schedule, queue and sweep pages in real headless Chromium; each test saves
a screenshot of its page to test-artifacts/screenshots."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from solidflow.engine import Instance, create_run, launch_run, launch_sweep

from .conftest import PIPELINES, WebServer, record_ticks, screenshot
from .pipelines import hello

pytestmark = [pytest.mark.xdist_group("web"), pytest.mark.web, pytest.mark.slow]

LOADED = 30_000
"""Milliseconds a page may take to show what the server answered (the code server loads the
schedules on first use; other suites may share the cores)."""


def schedule_status(web: WebServer, name: str) -> str:
    return web.client.get(f"/api/schedules/{name}").json()["status"]


def test_the_schedules_page_stops_and_starts_a_schedule_and_opens_a_ticks_run(
    page: Any, web: WebServer
) -> None:
    record_ticks(web.home)
    page.goto(f"{web.url}/#/schedules")
    row = page.locator('tr[data-schedule="hourly_nested"]')
    expect(row).to_contain_text("0 * * * *", timeout=LOADED)
    expect(row).to_contain_text("Europe/Berlin")
    expect(row.locator(".last-tick")).to_contain_text("SUCCESS")
    expect(page.locator(".location-error")).to_contain_text("broken.py")
    state = row.locator("td.state")
    expect(state).to_have_text("STOPPED")
    page.get_by_role("button", name="start hourly_nested").click()
    expect(state).to_have_text("RUNNING", timeout=LOADED)
    assert schedule_status(web, "hourly_nested") == "RUNNING"
    screenshot(page, "schedules")
    page.get_by_role("button", name="stop hourly_nested").click()
    expect(state).to_have_text("STOPPED", timeout=LOADED)
    assert schedule_status(web, "hourly_nested") == "STOPPED"

    row.get_by_role("link", name="hourly_nested").click()
    expect(page).to_have_url(re.compile(r"#/schedules/hourly_nested$"))
    ticks = page.locator("table.ticks tbody tr")
    expect(ticks).to_have_count(4, timeout=LOADED)
    expect(ticks.nth(1)).to_contain_text("FAILURE")
    expect(ticks.nth(1)).to_contain_text("run_config_fn raised ValueError: no rows at 11:00")
    previews = page.locator("li.preview")
    expect(previews).to_have_count(5, timeout=LOADED)
    expect(previews.filter(has_text="no rows at")).not_to_have_count(0)
    expect(previews.filter(has_text='"rows"')).not_to_have_count(0)
    screenshot(page, "schedule")

    newest = web.client.get("/api/schedules/hourly_nested/ticks", params={"limit": 1}).json()
    run_id = newest["ticks"][0]["run_id"]
    ticks.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/runs/{run_id}$"))
    expect(page.locator(".page-head")).to_contain_text("nested", timeout=LOADED)
    expect(page.locator(".tags")).to_contain_text("solidflow/schedule=hourly_nested")


def test_the_runs_page_shows_the_queue_in_start_order_and_cancels_a_queued_run(
    page: Any, web: WebServer
) -> None:
    instance = Instance(web.home)
    config = {"solids": {"load": {"config": {"rows": 2}}}}
    target = f"{PIPELINES}:hello"
    low = create_run(hello, config, instance=instance, target=target, tags={"q": "low"})
    high = create_run(hello, config, instance=instance, target=target, priority=7)
    page.goto(f"{web.url}/#/runs")
    queue = page.locator("table.queue")
    high_row = queue.locator(f'tr[data-run="{high.run_id}"]')
    low_row = queue.locator(f'tr[data-run="{low.run_id}"]')
    expect(high_row).to_contain_text("7", timeout=LOADED)
    expect(low_row).to_contain_text("q=low")
    order = [row.get_attribute("data-run") for row in queue.locator("tbody tr").all()]
    assert order.index(high.run_id) < order.index(low.run_id)
    screenshot(page, "queue")
    page.get_by_role("button", name=f"cancel {low.run_id}").click()
    expect(low_row).to_have_count(0, timeout=LOADED)
    assert web.client.get(f"/api/runs/{low.run_id}").json()["status"] == "CANCELED"
    web.client.post(f"/api/runs/{high.run_id}/cancel")


def test_the_sweep_page_shows_points_metrics_and_steps(page: Any, web: WebServer) -> None:
    instance = Instance(web.home)
    # values no other test runs: a step served from a run that a test deleted has no metadata
    grid = {"solids.load.config.rows": [41, 42, 43]}
    sweep = launch_sweep(hello, {}, grid, instance=instance, target=f"{PIPELINES}:hello")
    for each in sweep.runs:
        launched = launch_run(each.run_id, instance=instance, launcher="subprocess")
        assert launched.wait(timeout=120).status.value == "SUCCESS"
        launched.process.wait(timeout=60)  # type: ignore[attr-defined]
    page.goto(f"{web.url}/#/runs/{sweep.runs[0].run_id}")
    page.locator('.tags a[href^="#/sweeps/"]').click()
    expect(page).to_have_url(re.compile(rf"#/sweeps/{sweep.sweep_id}$"))
    rows = page.locator("table.sweep tbody tr")
    expect(rows).to_have_count(3, timeout=LOADED)
    page.get_by_placeholder("metric step.name").fill("double.value")
    page.get_by_role("button", name="Add metric").click()
    expect(page.locator("table.sweep td.metric")).to_have_text(["82", "84", "86"], timeout=LOADED)
    expect(page.locator(".sweep-steps")).to_contain_text("3 points")
    expect(page).to_have_url(re.compile(r"metric=double\.value"))
    screenshot(page, "sweep")
    page.get_by_role("link", name="Sweeps", exact=True).click()
    listed = page.locator(f'table.sweeps tr[data-sweep="{sweep.sweep_id}"]')
    expect(listed).to_contain_text("solids.load.config.rows", timeout=LOADED)
    expect(listed).to_contain_text("SUCCESS 3")
