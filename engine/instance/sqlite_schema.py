"""The SQLite schema of the instance storage, as the migrations that build it."""

from __future__ import annotations

from solidflow.engine.instance.rows import STEP_END_TYPES
from solidflow.engine.instance.sqlite_schedules import MIGRATION as SCHEDULES_MIGRATION

# MIGRATIONS[i] takes the schema from version i to version i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            timestamp REAL NOT NULL,
            type TEXT NOT NULL,
            step TEXT,
            payload BLOB NOT NULL,
            UNIQUE (run_id, seq)
        )""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            pipeline_name TEXT NOT NULL,
            status TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            tags BLOB NOT NULL,
            mode TEXT NOT NULL,
            target TEXT,
            run_config BLOB NOT NULL,
            parent_run_id TEXT,
            root_run_id TEXT,
            pid INTEGER NOT NULL,
            hostname TEXT NOT NULL,
            process_start TEXT
        )""",
        "CREATE INDEX runs_by_start ON runs (start_time)",
        "CREATE INDEX runs_by_status ON runs (status, start_time)",
    ),
    ("CREATE INDEX events_by_step ON events (step, type)",),
    (  # index only the events that end a step: a third of the rows to maintain on insert
        "DROP INDEX events_by_step",
        f"CREATE INDEX step_ends ON events (step) WHERE type IN {STEP_END_TYPES}",
    ),
    (  # run requests: queued runs have no driver yet; the plan; the driver's heartbeat
        """CREATE TABLE runs_4 (
            run_id TEXT PRIMARY KEY,
            pipeline_name TEXT NOT NULL,
            status TEXT NOT NULL,
            create_time REAL NOT NULL,
            start_time REAL,
            end_time REAL,
            tags BLOB NOT NULL,
            mode TEXT NOT NULL,
            target TEXT,
            run_config BLOB NOT NULL,
            parent_run_id TEXT,
            root_run_id TEXT,
            step_keys BLOB,
            solid_selection BLOB,
            executor TEXT,
            memoize INTEGER NOT NULL DEFAULT 0,
            external_outputs BLOB,
            pid INTEGER,
            hostname TEXT,
            process_start TEXT,
            heartbeat REAL
        )""",
        """INSERT INTO runs_4 (run_id, pipeline_name, status, create_time, start_time,
            end_time, tags, mode, target, run_config, parent_run_id, root_run_id, pid,
            hostname, process_start)
        SELECT run_id, pipeline_name, status, start_time, start_time, end_time, tags, mode,
            target, run_config, parent_run_id, root_run_id, pid, hostname, process_start
        FROM runs""",
        "DROP TABLE runs",
        "ALTER TABLE runs_4 RENAME TO runs",
        "CREATE INDEX runs_by_creation ON runs (create_time)",
        "CREATE INDEX runs_by_status ON runs (status, create_time)",
    ),
    SCHEDULES_MIGRATION,
    (  # the output keys each run read or produced, filled from the events (_BACKFILLED)
        """CREATE TABLE IF NOT EXISTS run_outputs (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS run_outputs_by_key ON run_outputs (key)",
    ),
)
