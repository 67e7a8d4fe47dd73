"""Where an instance's settings come from, known without reading them: its config file and
the environment variable that names its event log. With neither, every setting has its
default, and nothing needs validating; the defaults that reading runs needs are here."""

from __future__ import annotations

import os
from pathlib import Path

from solidflow.errors import SolidflowError

CONFIG_FILE = "solidflow.yaml"
DATABASE_URL_VARIABLE = "SOLIDFLOW_DATABASE_URL"
"""The environment variable that names the event log by URL (its scheme is the backend's
name, e.g. postgresql://...); it overrides `event_log` in solidflow.yaml."""
DEFAULT_EVENT_LOG_FILE = "events.db"
"""The SQLite event log of an instance whose settings do not name one, in its home."""
DEFAULT_HEARTBEAT_TIMEOUT = 60.0
"""Seconds after its last heartbeat that a run is dead, unless `run_monitoring` says."""


class InstanceConfigError(SolidflowError, ValueError):
    """The instance's config file cannot be read or holds invalid settings."""


def has_settings(home: Path) -> bool:
    """Whether the instance at `home` has settings of its own: a config file, or an event
    log named by $SOLIDFLOW_DATABASE_URL."""
    return bool(os.environ.get(DATABASE_URL_VARIABLE)) or (home / CONFIG_FILE).exists()
