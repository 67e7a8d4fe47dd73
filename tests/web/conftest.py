"""One `solidflow ui` server per test session (a subprocess on a free port, with a real SQLite
instance) and, for the browser tests, one headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from solidflow.benchmarks.web_ui import CHROMIUM_ARGS

PIPELINES = Path(__file__).with_name("pipelines.py")
SOLIDFLOW = str(Path(sys.executable).with_name("solidflow"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROKEN_SOURCE = "from solidflow import pipeline\n\ndef oops(:\n    pass\n"


@dataclass(frozen=True)
class WebServer:
    url: str
    home: Path
    client: httpx.Client


class ServerProcess:
    """`solidflow ui ARGS` started on a free port; its stderr goes to a file in `cwd`."""

    def __init__(self, args: list[str], home: Path, cwd: Path) -> None:
        self.log = cwd / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [SOLIDFLOW, "ui", *args, "--port", "0"],
                env={**os.environ, "SOLIDFLOW_HOME": str(home)},
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.process.stdout.readline()))
        reader.start()
        reader.join(60)
        if not first or "http://" not in first[0]:
            self.stop()
            raise RuntimeError(f"solidflow ui did not start: {self.log.read_text()}")
        self.url = first[0].split()[-1].rstrip("/")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The server, serving the test pipelines and a file with a syntax error."""
    root = tmp_path_factory.mktemp("web")
    broken = root / "broken.py"
    broken.write_text(BROKEN_SOURCE)
    targets = [f"{PIPELINES}:{name}" for name in ("hello", "sleepy", "nested")]
    server = ServerProcess([*targets, f"{broken}:oops"], root / "home", root)
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield WebServer(url=server.url, home=root / "home", client=client)
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, web: WebServer) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


TICKS_AT = datetime(2026, 6, 1, 10, 30, tzinfo=timezone.utc).timestamp()
"""When the test schedules' ticks are evaluated (12:30 in Berlin)."""


def record_ticks(home: Path) -> None:
    """Evaluate the schedule hourly_nested at TICKS_AT, as a daemon that started it four hours
    before would: ticks at 9:00 and 11:00 Berlin time fail, at 10:00 and 12:00 they queue a
    run. Ticks are recorded once, so calling it again changes nothing."""
    from solidflow.engine import Instance, evaluate_schedules, start_schedule, stop_schedule

    from .pipelines import hourly_nested

    instance = Instance(home)
    stop_schedule(instance, "hourly_nested", TICKS_AT)
    start_schedule(instance, "hourly_nested", TICKS_AT - 4 * 3600)
    evaluate_schedules(instance, [hourly_nested], TICKS_AT)
    stop_schedule(instance, "hourly_nested", TICKS_AT)


def screenshot(page: object, name: str) -> None:
    """Save a screenshot of the page to test-artifacts/screenshots/NAME.png."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
