"""The settings of an instance, read from `<home>/solidflow.yaml`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from solidflow.definitions.config import Config
from solidflow.engine.instance.config_file import (
    CONFIG_FILE,
    DATABASE_URL_VARIABLE,
    DEFAULT_HEARTBEAT_TIMEOUT,
    InstanceConfigError,
)
from solidflow.engine.instance.storage import EVENT_LOGS
from solidflow.engine.registry import PluginError


def _at_home(value: str, info: ValidationInfo) -> str:
    """`value` resolved against the home passed as validation context (URLs are kept)."""
    home = (info.context or {}).get("home")
    if home is None or "://" in value:
        return value
    return str(Path(home) / Path(value).expanduser())


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventLogConfig(_Settings):
    """Where the event log and the runs are stored: a backend (registered name, or
    "package.module:Class"; by default the scheme of a `url` setting, else sqlite) and its
    settings (the other keys of `event_log`). $SOLIDFLOW_DATABASE_URL overrides them."""

    backend: str = "sqlite"
    settings: Config


_DEFAULT_EVENT_LOG = EventLogConfig(backend="sqlite", settings=Config())
"""Stands in for event log settings that are invalid, while the others are checked."""


class StorageConfig(_Settings):
    """Where step outputs are stored: a directory or any fsspec URL, the options of its
    filesystem (such as `endpoint_url` for an S3-compatible server) and the storage backend
    (default: the local one for a directory, the one registered under a URL's protocol,
    else the fsspec one)."""

    root: str = Field(default="storage", validate_default=True)
    storage_options: dict[str, Any] = {}
    backend: str | None = None
    durability: Literal["run", "step", "none"] = "run"
    """When outputs are synced to disk and committed: once per run, before it commits
    (`run`), as each step ends (`step`), or never synced (`none`)."""

    @field_validator("root")
    @classmethod
    def _resolve_root(cls, value: str, info: ValidationInfo) -> str:
        return _at_home(value, info)


class RunMonitoringConfig(_Settings):
    """How the liveness of runs is told: drivers write a heartbeat into the run storage every
    `heartbeat_interval` seconds, and a run whose last heartbeat is older than
    `heartbeat_timeout` seconds is failed as dead by whichever process reads it. The daemon
    also asks each run's launcher every `check_interval` seconds whether its driver still runs,
    stops the driver of a run still CANCELING `cancel_grace` seconds after it saw the cancel,
    and queues again a run whose launch never happened (its launcher has no driver for it)
    `launch_grace` seconds after it was claimed."""

    heartbeat_interval: float = Field(default=5.0, gt=0)
    heartbeat_timeout: float = Field(default=DEFAULT_HEARTBEAT_TIMEOUT, gt=0)
    check_interval: float = Field(default=1.0, gt=0)
    cancel_grace: float = Field(default=30.0, ge=0)
    launch_grace: float = Field(default=10.0, gt=0)


class TagConcurrencyLimit(_Settings):
    """At most `limit` runs at once with the tag `key` (with the value `value`, when given;
    with each value on its own, when `per_value`)."""

    key: str
    value: str | None = None
    per_value: bool = False
    limit: int = Field(ge=0)


class RunQueueConfig(_Settings):
    """How the daemon starts queued runs: highest priority first, then oldest first, at most
    `max_concurrent_runs` at once (None: no limit) and within `tag_concurrency_limits`; it
    looks at the queue every `dequeue_interval` seconds."""

    max_concurrent_runs: int | None = Field(default=None, ge=0)
    tag_concurrency_limits: tuple[TagConcurrencyLimit, ...] = ()
    dequeue_interval: float = Field(default=0.1, gt=0)


class RunLauncherConfig(_Settings):
    """The launcher that starts runs (a registered name, or "package.module:Class") and its
    settings (the other keys of `run_launcher`, checked when the launcher is made)."""

    name: str = "subprocess"
    settings: dict[str, Any] = Field(default_factory=dict)


class InstanceConfig(_Settings):
    """The settings of an instance, read from `<home>/solidflow.yaml`."""

    event_log: EventLogConfig
    storage: StorageConfig = Field(default_factory=dict, validate_default=True)
    default_executor: str = "in_process"
    run_launcher: RunLauncherConfig = Field(default_factory=RunLauncherConfig)
    run_monitoring: RunMonitoringConfig = Field(default_factory=RunMonitoringConfig)
    run_queue: RunQueueConfig = Field(default_factory=RunQueueConfig)
    memoize: bool = False
    workspace: tuple[str, ...] = ()
    """Where the daemon and `solidflow schedule` find schedules: files ("path/to/file.py",
    relative to the home) or modules ("package.module")."""

    @field_validator("run_launcher", mode="before")
    @classmethod
    def _launcher_by_name(cls, value: Any) -> Any:
        """`run_launcher: NAME` or `run_launcher: {name: NAME, <its settings>}`."""
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "settings" not in value:
            settings = dict(value)
            return {"name": settings.pop("name", "subprocess"), "settings": settings}
        return value

    @field_validator("workspace")
    @classmethod
    def _resolve_workspace(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return tuple(
            _at_home(location, info) if location.endswith(".py") else location for location in value
        )

    @classmethod
    def load(cls, home: Path) -> InstanceConfig:
        """The config of the instance at `home`, with relative paths resolved against it.

        Raises:
            InstanceConfigError: the file is not valid YAML or holds invalid settings.
        """
        path = home / CONFIG_FILE
        data: Any = {}
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as error:
                raise InstanceConfigError(f"cannot parse {path}: {error}") from error
            if not isinstance(data, dict):
                raise InstanceConfigError(
                    f"{path} must hold a mapping of settings, not {type(data).__name__}"
                )
        problems: list[tuple[str, str]] = []
        event_log = _event_log(data.get("event_log"), problems) or _DEFAULT_EVENT_LOG
        try:
            config = cls.model_validate({**data, "event_log": event_log}, context={"home": home})
        except ValidationError as error:
            problems.extend(_problems(error))
        if problems:
            lines = "\n".join(f"  {where}: {message}" for where, message in problems)
            raise InstanceConfigError(f"invalid settings in {path}:\n{lines}") from None
        return config


def _problems(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [
        (".".join([*prefix, *(str(part) for part in problem["loc"])]), problem["msg"])
        for problem in error.errors()
    ]


def _event_log(data: Any, problems: list[tuple[str, str]]) -> EventLogConfig | None:
    """The event log settings in `data` (the `event_log` section), or None after adding
    what is wrong with them to `problems`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(("event_log", f"expected a mapping, not {type(data).__name__}"))
        return None
    settings = dict(data)
    where = "event_log.backend"
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if url:
        where = DATABASE_URL_VARIABLE
        if "://" not in url:
            problems.append((where, f"'{url}' is not a URL such as postgresql://host/database"))
            return None
        scheme = url.split("://", 1)[0]
        if settings.get("backend", scheme) != scheme:  # settings of another backend
            settings = {}
        settings.update(backend=scheme, url=url)
    elif "backend" not in settings and "://" in str(settings.get("url", "")):
        settings["backend"] = str(settings["url"]).split("://", 1)[0]
    backend = settings.pop("backend", "sqlite")
    try:
        schema = EVENT_LOGS.config_schema(str(backend))
    except PluginError as error:
        problems.append((where, str(error)))
        return None
    try:
        validated = (schema or Config).model_validate(settings)
    except ValidationError as error:
        problems.extend(_problems(error, ("event_log",)))
        return None
    return EventLogConfig(backend=str(backend), settings=validated)
