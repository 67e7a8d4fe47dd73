"""The web UI's server time and live log, on the real server and headless Chromium.

1. Records `--runs` runs of a `--solids`-solid fan-out in a temporary instance, starts
   `solidflow ui`, and times (median and max of `--repetitions`, after a warm-up, measured
   from a client on the loopback) what the runs page and a run page load: the runs listing,
   and a run, its pipeline and all its events.
2. Launches a run whose one solid logs `--rate` events per second for `--seconds`, opens its
   run page in headless Chromium and samples, twice a second, how far the page's newest log
   row is behind the wall clock, and the tab's memory (JS heap, and the renderer process's
   private memory).

    python benchmarks/web_ui.py [--solids 1000] [--runs 10] [--rate 5000] [--seconds 20]

Needs solidflow[web], playwright and Chromium (/usr/bin/chromium, or $CHROMIUM).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from solidflow import Instance, execute_pipeline
from solidflow.engine.run.targets import load_pipeline

PIPELINES = '''
import time
from solidflow import Config, solid, pipeline
from solidflow.benchmarks.trivial_dags import fan_out

wide = fan_out({leaves})


class ChattyConfig(Config):
    rate: int = 5000
    seconds: float = 20.0


@solid
def chatter(context, config: ChattyConfig) -> int:
    """Log `rate` lines a second for `seconds`, 1/100 of a second's worth at a time."""
    per_tick, sent, start = max(1, config.rate // 100), 0, time.monotonic()
    while time.monotonic() - start < config.seconds:
        for _ in range(per_tick):
            context.log.info(f"line {{sent}} of a chatty step")
            sent += 1
        pause = start + sent / config.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return sent


@pipeline
def chatty():
    chatter()
'''

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

LAST_ROW_TIME = """() => {
  const rows = [...document.querySelectorAll('.log-row')];
  if (!rows.length) return null;
  const last = rows.reduce((a, b) => (parseFloat(a.style.top) > parseFloat(b.style.top) ? a : b));
  return last.querySelector('.t').textContent;
}"""


def _start_server(args: list[str], home: Path, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    solidflow = str(Path(sys.executable).with_name("solidflow"))
    process = subprocess.Popen(
        [solidflow, "ui", *args, "--port", "0"],
        env={**os.environ, "SOLIDFLOW_HOME": str(home)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"solidflow ui did not start: {line!r}")
    return process, line.split()[-1].rstrip("/")


class _ServerTime:
    """Adds up the Server-Timing of the responses a client receives."""

    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self, response: httpx.Response) -> None:
        timing = response.headers.get("server-timing", "")
        if timing.startswith("app;dur="):
            self.ms += float(timing.removeprefix("app;dur="))


def _timed(action: Any, server: _ServerTime, repetitions: int) -> dict[str, float]:
    """Median and max of the server's and the client's time for `action`, in ms."""
    action()  # warm-up
    server_ms, client_ms = [], []
    for _ in range(repetitions):
        server.ms = 0.0
        start = time.perf_counter()
        action()
        client_ms.append((time.perf_counter() - start) * 1000)
        server_ms.append(server.ms)
    return {
        "server": statistics.median(server_ms),
        "server_max": max(server_ms),
        "client": statistics.median(client_ms),
    }


def _run_page(client: httpx.Client, run_id: str, pipeline: str) -> int:
    client.get(f"/api/runs/{run_id}").raise_for_status()
    client.get(f"/api/pipelines/{pipeline}").raise_for_status()
    return _count_events(client, run_id)


def _report(what: str, timing: dict[str, float]) -> None:
    print(
        f"  {what:<48} server {timing['server']:6.1f} ms (max {timing['server_max']:.1f}), "
        f"client {timing['client']:6.1f} ms"
    )


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _renderer_private_mib() -> float:
    """The private memory (smaps Private_Clean + Private_Dirty) of this process's Chromium
    renderers: the tab's own memory, without the shared libraries RSS also counts."""
    total_kib = 0
    for pid in _descendants(os.getpid()):
        try:
            if b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def _live_log(url: str, client: httpx.Client, rate: int, seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    body = {
        "pipeline": "chatty",
        "run_config": {"solids": {"chatter": {"config": {"rate": rate, "seconds": seconds}}}},
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        run = client.post("/api/runs", json=body).json()
        page.goto(f"{url}/#/runs/{run['run_id']}")
        lags, heap, private = [], [], []
        deadline = time.monotonic() + seconds + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            shown = page.evaluate(LAST_ROW_TIME)
            status = client.get(f"/api/runs/{run['run_id']}").json()["status"]
            if shown is not None and status == "STARTED":
                clock = dt.datetime.combine(dt.date.today(), dt.time.fromisoformat(shown))
                lags.append(time.time() - clock.timestamp())
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            heap.append(metrics["JSHeapUsedSize"] / 2**20)
            private.append(_renderer_private_mib())
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
        page.wait_for_timeout(1500)
        counted = page.locator(".log-count").text_content()
        browser.close()
    instance_events = _count_events(client, run["run_id"])
    steady = lags[2:] or lags
    return {
        "events": instance_events,
        "shown": counted,
        "lag_median_s": statistics.median(steady) if steady else float("nan"),
        "lag_max_s": max(steady) if steady else float("nan"),
        "heap_max_mib": max(heap),
        "private_max_mib": max(private),
    }


def _count_events(client: httpx.Client, run_id: str) -> int:
    after, count = -1, 0
    while True:
        page = client.get(f"/api/runs/{run_id}/events", params={"after": after}).json()
        count += len(page["events"])
        after = page["cursor"]
        if page["run_ended"] or not page["events"]:
            return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solids", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--rate", type=int, default=5000, help="events per second of the live run")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the live run logs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        module = root / "web_bench_pipelines.py"
        module.write_text(PIPELINES.format(leaves=args.solids - 2))
        home = root / "home"
        wide, _ = load_pipeline(f"{module}:wide")
        with Instance(home) as instance:
            run_ids = [
                execute_pipeline(wide, instance=instance, target=f"{module}:wide").run_id
                for _ in range(args.runs)
            ]
        process, url = _start_server([f"{module}:wide", f"{module}:chatty"], home, root)
        try:
            server = _ServerTime()
            with httpx.Client(
                base_url=url, timeout=120, event_hooks={"response": [server]}
            ) as client:
                runs = _timed(
                    lambda: client.get("/api/runs", params={"limit": 50}).raise_for_status(),
                    server,
                    args.repetitions,
                )
                events = _run_page(client, run_ids[-1], wide.name)
                run = _timed(
                    lambda: _run_page(client, run_ids[-1], wide.name), server, args.repetitions
                )
                print(
                    f"{args.runs} runs of a {args.solids}-solid pipeline in the log "
                    f"({events} events per run); median of {args.repetitions} after a warm-up:"
                )
                _report("runs page (GET /api/runs)", runs)
                _report(f"run page (the run, its pipeline, {events} events)", run)
                live = _live_log(url, client, args.rate, args.seconds)
                print(
                    f"live log of a run logging {args.rate} events/s for {args.seconds:.0f} s "
                    f"({live['events']} events; the page shows '{live['shown']}'):"
                )
                print(
                    f"  newest row behind the clock: median {live['lag_median_s']:.2f} s, "
                    f"max {live['lag_max_s']:.2f} s"
                )
                print(
                    f"  tab memory: JS heap max {live['heap_max_mib']:.0f} MiB, "
                    f"renderer private memory max {live['private_max_mib']:.0f} MiB"
                )
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
