import datetime as dt
import io

from rich.console import Console

from solidflow.cli.display import EventLines
from solidflow.engine import EventRecord, EventType

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, 89_000).timestamp()


def event(type: EventType = EventType.LOG, step: str | None = "load", **payload) -> EventRecord:
    return EventRecord(run_id="r", seq=0, timestamp=WHEN, type=type, step=step, payload=payload)


def plain() -> EventLines:
    return EventLines(Console(file=io.StringIO()))


def test_a_line_has_the_time_type_step_level_and_message():
    line = plain()(event(level="INFO", message="loaded 3 rows"))
    assert line == "05:06:07.089 LOG               load [INFO] loaded 3 rows\n"
    run_end = plain()(event(EventType.RUN_SUCCESS, step=None, message="2 steps succeeded"))
    assert run_end == "05:06:07.089 RUN_SUCCESS       2 steps succeeded\n"


def test_a_line_without_a_message_summarises_the_payload():
    line = plain()(event(EventType.STEP_SUCCESS, duration_ms=12))
    assert line == "05:06:07.089 STEP_SUCCESS      load succeeded in 12 ms\n"


def test_control_characters_of_a_message_do_not_reach_the_output():
    line = plain()(event(message="progress\r50%\x07"))
    assert line.endswith(" progress50%\n")


def test_a_terminal_sees_styles_and_a_file_none():
    terminal = EventLines(Console(file=io.StringIO(), force_terminal=True, color_system="standard"))
    styled = terminal(event(EventType.STEP_FAILURE, message="boom"))
    assert "\x1b[31mSTEP_FAILURE     \x1b[0m" in styled
    assert "\x1b[1mload\x1b[0m" in styled
    assert "\x1b" not in plain()(event(EventType.STEP_FAILURE, message="boom"))
