"""The settings of the PostgreSQL event log (importable without psycopg)."""

from __future__ import annotations

from pydantic import Field, field_validator

from solidflow.definitions.config import Config


class PostgresSettings(Config):
    """Where the runs, events and leases are stored, and how many connections each process
    keeps open."""

    url: str
    """postgresql://user:password@host:port/database (libpq's URL; a password may also come
    from ~/.pgpass or PGPASSWORD)."""
    pool_size: int = Field(default=4, ge=1)
    """The most connections one process opens (besides the one that listens for new events)."""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"'{value}' is not a postgresql:// URL")
        return value
