"""How events look on a terminal: one line per event, and live progress of a run."""

from __future__ import annotations

import datetime as dt
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from solidflow.engine import EventRecord, EventType, describe_event

_STYLES = {
    EventType.RUN_SUCCESS: "bold green",
    EventType.RUN_FAILURE: "bold red",
    EventType.RUN_CANCELED: "bold yellow",
    EventType.STEP_SUCCESS: "green",
    EventType.STEP_FAILURE: "red",
    EventType.STEP_SKIPPED: "yellow",
    EventType.STEP_RETRY: "yellow",
    EventType.STEP_MEMOIZED: "blue",
}


def event_line(event: EventRecord) -> Text:
    when = dt.datetime.fromtimestamp(event.timestamp).strftime("%H:%M:%S.%f")[:-3]
    level = event.payload.get("level", "")
    text = Text(f"{when} ")
    text.append(f"{event.type.value:<17}", style=_STYLES.get(event.type, "cyan"))
    if event.step:
        text.append(f" {event.step}", style="bold")
    if level:
        text.append(f" [{level}]")
    text.append(f" {describe_event(event)}")
    return text


_STEP_END_LINES = {
    EventType.STEP_SUCCESS: ("✓", "green"),
    EventType.STEP_FAILURE: ("✗", "red"),
    EventType.STEP_SKIPPED: ("-", "yellow"),
    EventType.STEP_RETRY: ("↻", "yellow"),
    EventType.STEP_MEMOIZED: ("=", "blue"),
}


class RunProgress:
    """Shows a run as it goes: a live status line on a terminal, else one line per step."""

    def __init__(self, total: int, file: IO[str] | None = None) -> None:
        self.console = Console(file=file, highlight=False, soft_wrap=True)
        self.total = total
        self.done = self.failed = self.skipped = self.running = self.memoized = 0
        self._live: Live | None = None

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            self._live = Live(
                self._status(), console=self.console, refresh_per_second=8, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def _status(self) -> Text:
        return Text(
            f"steps {self.done + self.failed + self.skipped + self.memoized}/{self.total} done · "
            f"{self.running} running · {self.failed} failed · {self.skipped} skipped · "
            f"{self.memoized} memoized",
            style="bold",
        )

    def __call__(self, event: EventRecord) -> None:
        kind = event.type
        if kind is EventType.STEP_START:
            self.running += 1
        elif kind is EventType.STEP_SUCCESS:
            self.running -= 1
            self.done += 1
        elif kind is EventType.STEP_FAILURE:
            self.running -= 1
            self.failed += 1
        elif kind is EventType.STEP_SKIPPED:
            self.skipped += 1
        elif kind is EventType.STEP_MEMOIZED:
            self.memoized += 1
        elif kind is EventType.STEP_RETRY:
            self.running -= 1
        if kind in _STEP_END_LINES or (
            kind is EventType.LOG
            and (event.payload.get("level") in ("WARNING", "ERROR") or event.payload.get("engine"))
        ):
            self.console.print(self._step_line(event))
        if self._live is not None:
            self._live.update(self._status())

    def _step_line(self, event: EventRecord) -> Text:
        default = ("·", "cyan") if event.payload.get("level") == "INFO" else ("!", "yellow")
        mark, style = _STEP_END_LINES.get(event.type, default)
        text = Text(f"{mark} ", style=style)
        text.append(event.step or "run", style="bold")
        text.append(f"  {describe_event(event)}")
        return text
