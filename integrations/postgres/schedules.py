"""The schedules, ticks and step claims of the PostgreSQL instance storage (mixed into
PostgresStorage, whose pooled transactions they use)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import errors

from solidflow.engine.instance.claims import StepClaim
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.instance.storage import DuplicateRecordError
from solidflow.engine.instance.ticks import ScheduleState, ScheduleStatus, TickRecord, TickStatus

TABLES = (
    """CREATE TABLE schedule_states (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        cursor DOUBLE PRECISION,
        update_time DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE ticks (
        key TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        tick_time DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL,
        run_id TEXT,
        error TEXT,
        create_time DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX ticks_by_schedule ON ticks (schedule, tick_time)",
    """CREATE TABLE step_claims (
        memo_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        step TEXT NOT NULL,
        claim_time DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX step_claims_by_run ON step_claims (run_id)",
)
"""The tables of schedules, ticks and step claims (part of the first schema version)."""

_TICK_COLUMNS = "key, schedule, tick_time, status, run_id, error, create_time"
_ALIVE = [status.value for status in RunStatus if status.alive]
_Transaction = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


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


class PostgresSchedules:
    """Schedule states and ticks in the `schedule_states` and `ticks` tables."""

    _transaction: _Transaction

    def get_schedule_state(self, name: str) -> ScheduleState | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT name, status, cursor, update_time FROM schedule_states WHERE name = %s",
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
                "INSERT INTO schedule_states (name, status, cursor, update_time)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                " status = EXCLUDED.status, cursor = EXCLUDED.cursor,"
                " update_time = EXCLUDED.update_time",
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
                    f"INSERT INTO ticks ({_TICK_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    row,
                )
        except errors.UniqueViolation:
            raise DuplicateRecordError(f"tick {tick.key!r} is already stored") from None

    def update_tick(
        self, key: str, *, status: TickStatus, run_id: str | None = None, error: str | None = None
    ) -> TickRecord:
        with self._transaction() as conn:
            row = conn.execute(
                "UPDATE ticks SET status = %s, run_id = COALESCE(%s, run_id), error = %s"
                f" WHERE key = %s RETURNING {_TICK_COLUMNS}",
                (TickStatus(status).value, run_id, error, key),
            ).fetchone()
        if row is None:
            raise KeyError(key)
        return _tick_from_row(row)

    def get_ticks(
        self, schedule: str, *, key: str | None = None, limit: int | None = None
    ) -> list[TickRecord]:
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT {_TICK_COLUMNS} FROM ticks WHERE schedule = %s"
                " AND (%s::text IS NULL OR key = %s) ORDER BY tick_time DESC LIMIT %s",
                (schedule, key, key, limit),
            ).fetchall()
        return [_tick_from_row(row) for row in rows]


class PostgresStepClaims:
    """Claims on memo keys in the `step_claims` table; a holder's liveness is read from the
    `runs` table in the same transaction, whose claimed rows it locks."""

    _transaction: _Transaction

    def claim_steps(
        self, run_id: str, steps: Mapping[str, str], *, now: float, stale_after: float
    ) -> dict[str, StepClaim]:
        held: dict[str, StepClaim] = {}
        if not steps:
            return held
        keys = sorted(steps)  # locks taken in one order: concurrent claims do not deadlock
        with self._transaction() as conn:
            conn.execute(  # the keys' rows exist, and are locked until the end
                "INSERT INTO step_claims (memo_key, run_id, step, claim_time)"
                " SELECT k, '', '', 0 FROM unnest(%s::text[]) AS k ON CONFLICT DO NOTHING",
                (keys,),
            )
            rows = conn.execute(
                "SELECT c.memo_key, c.run_id, c.step, c.claim_time,"
                " COALESCE(r.status = ANY(%s)"
                " AND COALESCE(r.heartbeat, r.start_time, r.create_time) >= %s, FALSE)"
                " FROM step_claims c LEFT JOIN runs r ON r.run_id = c.run_id"
                " WHERE c.memo_key = ANY(%s) ORDER BY c.memo_key FOR UPDATE OF c",
                (_ALIVE, now - stale_after, keys),
            ).fetchall()
            for memo_key, holder, step, claim_time, alive in rows:
                if holder not in (run_id, "") and alive:
                    held[memo_key] = StepClaim(
                        memo_key=memo_key, run_id=holder, step=step, claim_time=claim_time
                    )
            conn.cursor().executemany(
                "UPDATE step_claims SET run_id = %s, step = %s, claim_time = %s"
                " WHERE memo_key = %s",
                [(run_id, step, now, key) for key, step in steps.items() if key not in held],
            )
        return held

    def release_step_claims(self, run_id: str, memo_keys: Collection[str] | None = None) -> None:
        keys = None if memo_keys is None else list(memo_keys)
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM step_claims WHERE run_id = %s"
                " AND (%s::text[] IS NULL OR memo_key = ANY(%s))",
                (run_id, keys, keys),
            )
