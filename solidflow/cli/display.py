"""How events look on a terminal: one line per event, and live progress of a run."""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

from rich.console import COLOR_SYSTEMS, Console
from rich.control import strip_control_codes
from rich.live import Live
from rich.style import Style
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


class EventLines:
    """Renders events as lines of text, one per event, as fast as a run logs: plain strings,
    with the styles of `console`'s colour system when it has one (a terminal)."""

    def __init__(self, console: Console) -> None:
        system = COLOR_SYSTEMS.get(console.color_system or "")

        def styled(style: str) -> tuple[str, str]:
            if system is None:
                return "", ""
            prefix, suffix = Style.parse(style).render("\0", color_system=system).split("\0")
            return prefix, suffix

        self._kinds = {}
        for kind in EventType:
            prefix, suffix = styled(_STYLES.get(kind, "cyan"))
            self._kinds[kind] = f"{prefix}{kind.value:<17}{suffix}"
        self._bold = styled("bold")
        self._heads: dict[tuple[EventType, str | None, Any], str] = {}
        self._clock: dict[int, str] = {}

    def _head(self, kind: EventType, step: str | None, level: Any) -> str:
        """What follows the time on the line of an event of `kind` by `step` at `level`."""
        if len(self._heads) > 4096:
            self._heads.clear()
        styled_step = f" {self._bold[0]}{step}{self._bold[1]}" if step else ""
        head = f"{self._kinds[kind]}{styled_step}{f' [{level}]' if level else ''} "
        self._heads[(kind, step, level)] = head
        return head

    def _second(self, second: int) -> str:
        if len(self._clock) > 4096:
            self._clock.clear()
        clock = self._clock[second] = dt.datetime.fromtimestamp(second).strftime("%H:%M:%S")
        return clock

    def __call__(self, event: EventRecord) -> str:
        """The event's line, ending with a newline."""
        payload = event.payload
        level = payload.get("level")
        kind = event.type
        head = self._heads.get((kind, event.step, level)) or self._head(kind, event.step, level)
        second, micros = divmod(round(event.timestamp * 1_000_000), 1_000_000)
        clock = self._clock.get(second) or self._second(second)
        message = payload.get("message")
        message = str(message) if message else describe_event(event)
        if not message.isprintable():
            message = strip_control_codes(message)
        return f"{clock}.{micros // 1000:03d} {head}{message}\n"


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
