"""The schedules, ticks and step claims of the SQLite instance storage (mixed into
SqliteStorage, whose connection and transactions they use)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from solidflow.engine.instance.claims import StepClaim
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.instance.storage import DuplicateRecordError
from solidflow.engine.instance.ticks import ScheduleState, ScheduleStatus, TickRecord, TickStatus

MIGRATION = (  # schema version 5: who launched a run, schedules and their ticks, step claims
    "ALTER TABLE runs ADD COLUMN launcher TEXT",
    """CREATE TABLE schedule_states (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        cursor REAL,
        update_time REAL NOT NULL
    )""",
    """CREATE TABLE ticks (
        key TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        tick_time REAL NOT NULL,
        status TEXT NOT NULL,
        run_id TEXT,
        error TEXT,
        create_time REAL NOT NULL
    )""",
    "CREATE INDEX ticks_by_schedule ON ticks (schedule, tick_time)",
    """CREATE TABLE step_claims (
        memo_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        step TEXT NOT NULL,
        claim_time REAL NOT NULL
    )""",
    "CREATE INDEX step_claims_by_run ON step_claims (run_id)",
)

_TICK_COLUMNS = "key, schedule, tick_time, status, run_id, error, create_time"
_ALIVE = tuple(status.value for status in RunStatus if status.alive)


def _tick_from_row(row: tuple[Any, ...]) -> TickRecord:
    key, schedule, tick_time, status, run_id, error, create_time = row
    return TickRecord(
        key=key,
        schedule=schedule,
        tick_time=tick_time,
        status=TickStatus(status),
        run_id=run_id,
        error=error,
        create_time=create_time,
    )


class SqliteSchedules:
    """Schedule states and ticks in the `schedule_states` and `ticks` tables."""

    _locked: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def get_schedule_state(self, name: str) -> ScheduleState | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT name, status, cursor, update_time FROM schedule_states WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            return None
        return ScheduleState(
            name=row[0], status=ScheduleStatus(row[1]), cursor=row[2], update_time=row[3]
        )

    def set_schedule_state(self, state: ScheduleState) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO schedule_states (name, status, cursor, update_time)"
                " VALUES (?, ?, ?, ?)",
                (state.name, state.status.value, state.cursor, state.update_time),
            )

    def add_tick(self, tick: TickRecord) -> None:
        row = (
            tick.key,
            tick.schedule,
            tick.tick_time,
            tick.status.value,
            tick.run_id,
            tick.error,
            tick.create_time,
        )
        try:
            with self._transaction() as conn:
                conn.execute(
                    f"INSERT INTO ticks ({_TICK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateRecordError(f"tick {tick.key!r} is already stored") from error

    def update_tick(
        self, key: str, *, status: TickStatus, run_id: str | None = None, error: str | None = None
    ) -> TickRecord:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE ticks SET status = ?, run_id = COALESCE(?, run_id), error = ?"
                " WHERE key = ?",
                (TickStatus(status).value, run_id, error, key),
            )
            row = conn.execute(
                f"SELECT {_TICK_COLUMNS} FROM ticks WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            raise KeyError(key)
        return _tick_from_row(row)

    def get_ticks(
        self, schedule: str, *, key: str | None = None, limit: int | None = None
    ) -> list[TickRecord]:
        where, params = "schedule = ?", [schedule]
        if key is not None:
            where += " AND key = ?"
            params.append(key)
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_TICK_COLUMNS} FROM ticks WHERE {where} ORDER BY tick_time DESC LIMIT ?",
                (*params, -1 if limit is None else limit),
            ).fetchall()
        return [_tick_from_row(row) for row in rows]


class SqliteStepClaims:
    """Claims on memo keys in the `step_claims` table; a holder's liveness is read from the
    `runs` table in the same transaction."""

    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def claim_steps(
        self, run_id: str, steps: Mapping[str, str], *, now: float, stale_after: float
    ) -> dict[str, StepClaim]:
        held: dict[str, StepClaim] = {}
        if not steps:
            return held
        with self._transaction() as conn:
            for memo_key, holder, step, claim_time, alive in _holders(
                conn, list(steps), now - stale_after
            ):
                if holder != run_id and alive:
                    held[memo_key] = StepClaim(
                        memo_key=memo_key, run_id=holder, step=step, claim_time=claim_time
                    )
            conn.executemany(
                "INSERT OR REPLACE INTO step_claims (memo_key, run_id, step, claim_time)"
                " VALUES (?, ?, ?, ?)",
                [(key, run_id, step, now) for key, step in steps.items() if key not in held],
            )
        return held

    def release_step_claims(self, run_id: str, memo_keys: Collection[str] | None = None) -> None:
        with self._transaction() as conn:
            if memo_keys is None:
                conn.execute("DELETE FROM step_claims WHERE run_id = ?", (run_id,))
            else:
                conn.executemany(
                    "DELETE FROM step_claims WHERE run_id = ? AND memo_key = ?",
                    [(run_id, key) for key in memo_keys],
                )


_CHUNK = 500  # SQLite's limit on bound parameters is 999 in old builds


def _holders(
    conn: sqlite3.Connection, memo_keys: list[str], alive_since: float
) -> Iterator[tuple[str, str, str, float, bool]]:
    """(memo key, holding run, step, claim time, whether the holder is alive) of the claimed
    keys among `memo_keys`."""
    statuses = ", ".join("?" * len(_ALIVE))
    for start in range(0, len(memo_keys), _CHUNK):
        chunk = memo_keys[start : start + _CHUNK]
        rows = conn.execute(
            "SELECT c.memo_key, c.run_id, c.step, c.claim_time,"
            f" r.status IN ({statuses})"
            " AND COALESCE(r.heartbeat, r.start_time, r.create_time) >= ?"
            " FROM step_claims c LEFT JOIN runs r ON r.run_id = c.run_id"
            f" WHERE c.memo_key IN ({', '.join('?' * len(chunk))})",
            (*_ALIVE, alive_since, *chunk),
        )
        for memo_key, holder, step, claim_time, alive in rows:
            yield memo_key, holder, step, claim_time, bool(alive)
