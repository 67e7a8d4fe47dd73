"""PostgreSQL run storage and event log for deployments that several hosts share.

Registered as the event log backend `postgresql` (entry point group `solidflow.event_logs`):
`SOLIDFLOW_DATABASE_URL=postgresql://user@host/database`, or `event_log: {url:
postgresql://...}` in solidflow.yaml. Needs `pip install 'solidflow[postgres]'` (psycopg 3
and its connection pool); the settings are known without it.
"""

from solidflow.engine.registry import Deferred
from solidflow.integrations.postgres.settings import PostgresSettings

POSTGRES = Deferred(
    implementation="solidflow.integrations.postgres.storage:PostgresStorage",
    config_schema=PostgresSettings,
    extra="postgres",
)

__all__ = ["POSTGRES", "PostgresSettings"]
