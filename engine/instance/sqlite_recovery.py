"""Recover a damaged SQLite event log: set the file aside and copy into a new one the runs and
events that can still be read, rebuilding the records of runs that only their events tell."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from solidflow.engine.events.records import RUN_END_TYPES, EventRecord, EventType
from solidflow.engine.instance.runs import END_EVENTS, RunRecord, RunStatus
from solidflow.engine.instance.storage import InstanceStorage, Recovery
from solidflow.engine.sqlite_files import move_aside

T = TypeVar("T")

_CHUNK = 1000
_SMALLEST = 16
"""Rows are read by ranges of rowids; a range that fails to read is split in two, down to
this size, below which it is skipped as unreadable."""


def damage_of(path: Path) -> str | None:
    """What SQLite's quick check finds wrong with the database at `path`, None if nothing."""
    try:
        conn = sqlite3.connect(path)
    except sqlite3.DatabaseError as error:
        return str(error)
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as error:
        return str(error)
    finally:
        conn.close()
    return None if found == ["ok"] else "; ".join(found[:3])


def _max_rowid(conn: sqlite3.Connection, table: str) -> int | None:
    for query in (
        f"SELECT max(rowid) FROM {table}",
        "SELECT seq FROM sqlite_sequence WHERE name = ?",
    ):
        try:
            row = conn.execute(query, (table,) if "?" in query else ()).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None and row[0] is not None:
            return int(row[0])
    return None


def readable_rows(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    decode: Callable[[tuple[Any, ...]], T],
    unreadable: list[tuple[str, int, int]],
) -> Iterator[T]:
    """The rows of `table` that can be read and decoded, by rowid; the ranges that cannot
    are added to `unreadable`."""
    last = _max_rowid(conn, table)
    if last is None:
        try:  # an empty table, or one whose last row is unreadable: try reading it whole
            last = len(conn.execute(f"SELECT rowid FROM {table}").fetchall())
        except sqlite3.DatabaseError:
            unreadable.append((table, 1, -1))
            return
    ranges = [(start, min(start + _CHUNK - 1, last)) for start in range(1, last + 1, _CHUNK)]
    while ranges:
        first, end = ranges.pop(0)
        try:
            rows = conn.execute(
                f"SELECT {columns} FROM {table} WHERE rowid BETWEEN ? AND ? ORDER BY rowid",
                (first, end),
            ).fetchall()
        except sqlite3.DatabaseError:
            if end - first + 1 <= _SMALLEST:
                unreadable.append((table, first, end))
            else:
                middle = (first + end) // 2
                ranges[:0] = [(first, middle), (middle + 1, end)]
            continue
        for row in rows:
            try:
                yield decode(row)
            except Exception:  # a row whose values are damaged
                unreadable.append((table, first, end))


def rebuilt_run(run_id: str, events: Sequence[EventRecord]) -> RunRecord:
    """The record of run `run_id` as far as its events tell (its start, its end and what
    RUN_START says); a run whose end is not among them is FAILURE."""
    start = next((e for e in events if e.type is EventType.RUN_START), None)
    end = next((e for e in reversed(events) if e.type in RUN_END_TYPES), None)
    details = start.payload if start is not None else {}
    statuses = {event: status for status, event in END_EVENTS.items()}
    return RunRecord(
        run_id=run_id,
        pipeline_name=str(details.get("pipeline", "unknown")),
        status=statuses[end.type] if end is not None else RunStatus.FAILURE,
        create_time=events[0].timestamp,
        start_time=None if start is None else start.timestamp,
        end_time=events[-1].timestamp,
        tags=dict(details.get("tags") or {}),
        mode=str(details.get("mode", "default")),
        step_keys=tuple(details.get("steps") or ()),
        executor=details.get("executor"),
        memoize=bool(details.get("memoize", False)),
        external_outputs=tuple(tuple(item) for item in details.get("external") or ()),
    )


def recover_database(
    path: Path,
    storage: InstanceStorage,
    *,
    run_columns: str,
    decode_run: Callable[[tuple[Any, ...]], RunRecord],
    event_columns: str,
    decode_event: Callable[[tuple[Any, ...]], EventRecord],
) -> Recovery:
    """Check the event log at `path`; if it is damaged, move it aside and copy into `storage`
    (which then starts a new file at `path`) the runs and events that can be read."""
    damage = damage_of(path) if path.exists() else None
    if damage is None:
        return Recovery(path=str(path), damage=None)
    aside = move_aside(path)
    if aside is None:
        return Recovery(path=str(path), damage=None)  # another process recovered it
    unreadable: list[tuple[str, int, int]] = []
    source = sqlite3.connect(f"{Path(aside).absolute().as_uri()}?mode=ro", uri=True)
    try:
        runs = {
            run.run_id: run
            for run in readable_rows(source, "runs", run_columns, decode_run, unreadable)
        }
        events: dict[str, list[EventRecord]] = {}
        for event in readable_rows(
            source, "events", event_columns, _checked(decode_event), unreadable
        ):
            events.setdefault(event.run_id, []).append(event)
    finally:
        source.close()
    rebuilt = [rebuilt_run(run_id, found) for run_id, found in events.items() if run_id not in runs]
    for run in sorted([*runs.values(), *rebuilt], key=lambda run: run.create_time):
        storage.add_run(run)
    copied = 0
    for found in events.values():
        for start in range(0, len(found), _CHUNK):
            storage.store_events(found[start : start + _CHUNK])
        copied += len(found)
    return Recovery(
        path=str(path),
        damage=damage,
        moved_to=aside,
        runs=len(runs),
        rebuilt=len(rebuilt),
        events=copied,
        unreadable=tuple(unreadable),
    )


def _checked(
    decode: Callable[[tuple[Any, ...]], EventRecord],
) -> Callable[[tuple[Any, ...]], EventRecord]:
    """`decode`, which also unpacks the event's payload, so that a damaged one is refused."""

    def decode_and_check(row: tuple[Any, ...]) -> EventRecord:
        event = decode(row)
        _ = event.payload
        return event

    return decode_and_check
