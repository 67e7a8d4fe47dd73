"""The schema of the PostgreSQL event log: versioned migrations.

MIGRATIONS[i] takes the schema from version i to version i + 1; the version is the one row of
`solidflow_schema`. A new database gets every migration when it is first opened; an existing
one is migrated only by `solidflow instance migrate` (hosts that share it are upgraded first).
"""

from __future__ import annotations

from solidflow.engine.instance.rows import STEP_END_TYPES
from solidflow.integrations.postgres.schedules import TABLES as SCHEDULE_TABLES

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS solidflow_schema (
    version INTEGER NOT NULL
)"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # the event log, the runs, schedules and their ticks, step claims
        """CREATE TABLE events (
            id BIGSERIAL PRIMARY KEY,
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            timestamp DOUBLE PRECISION NOT NULL,
            type TEXT NOT NULL,
            step TEXT,
            payload BYTEA NOT NULL,
            UNIQUE (run_id, seq)
        )""",
        f"CREATE INDEX step_ends ON events (step) WHERE type IN {STEP_END_TYPES}",
        """CREATE TABLE runs (
            number BIGSERIAL UNIQUE,
            run_id TEXT PRIMARY KEY,
            pipeline_name TEXT NOT NULL,
            status TEXT NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            start_time DOUBLE PRECISION,
            end_time DOUBLE PRECISION,
            tags BYTEA NOT NULL,
            mode TEXT NOT NULL,
            target TEXT,
            run_config BYTEA NOT NULL,
            parent_run_id TEXT,
            root_run_id TEXT,
            step_keys BYTEA,
            solid_selection BYTEA,
            executor TEXT,
            memoize BOOLEAN NOT NULL DEFAULT FALSE,
            external_outputs BYTEA,
            pid INTEGER,
            hostname TEXT,
            process_start TEXT,
            heartbeat DOUBLE PRECISION,
            launcher TEXT
        )""",
        "CREATE INDEX runs_by_creation ON runs (create_time, number)",
        "CREATE INDEX runs_by_status ON runs (status, create_time, number)",
        *SCHEDULE_TABLES,
    ),
    (  # retention: the output keys of each run (filled from the events), shared leases
        """CREATE TABLE IF NOT EXISTS run_outputs (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        "CREATE INDEX IF NOT EXISTS run_outputs_by_key ON run_outputs (key)",
        """CREATE TABLE IF NOT EXISTS leases (
            run_id TEXT PRIMARY KEY,
            keys BYTEA NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
BACKFILLED = frozenset({1})
"""The migrations (by index) after which run_outputs is filled from the stored events."""
