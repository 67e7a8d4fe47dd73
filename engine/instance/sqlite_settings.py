"""The settings of the SQLite event log (apart from the storage, which reads them only when it
is made from settings)."""

from __future__ import annotations

from solidflow.definitions.config import Config
from solidflow.engine.instance.config_file import DEFAULT_EVENT_LOG_FILE


class SqliteSettings(Config):
    """The settings of the SQLite event log."""

    path: str = DEFAULT_EVENT_LOG_FILE
    """The database file; a relative path is relative to the instance's home."""
