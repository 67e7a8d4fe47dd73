"""The settings of an instance, read from `<home>/solidflow.yaml`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from solidflow.errors import SolidflowError

CONFIG_FILE = "solidflow.yaml"


class InstanceConfigError(SolidflowError, ValueError):
    """The instance's config file cannot be read or holds invalid settings."""


def _at_home(value: str, info: ValidationInfo) -> str:
    """`value` resolved against the home passed as validation context (URLs are kept)."""
    home = (info.context or {}).get("home")
    if home is None or "://" in value:
        return value
    return str(Path(home) / Path(value).expanduser())


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventLogConfig(_Settings):
    """Where the event log and the runs are stored."""

    backend: Literal["sqlite"] = "sqlite"
    path: str = Field(default="events.db", validate_default=True)

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: str, info: ValidationInfo) -> str:
        return _at_home(value, info)


class StorageConfig(_Settings):
    """Where step outputs are stored: a directory or any fsspec URL."""

    root: str = Field(default="storage", validate_default=True)

    @field_validator("root")
    @classmethod
    def _resolve_root(cls, value: str, info: ValidationInfo) -> str:
        return _at_home(value, info)


class InstanceConfig(_Settings):
    """The settings of an instance, read from `<home>/solidflow.yaml`."""

    event_log: EventLogConfig = Field(default_factory=dict, validate_default=True)
    storage: StorageConfig = Field(default_factory=dict, validate_default=True)
    default_executor: str = "in_process"
    memoize: bool = False

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
        try:
            return cls.model_validate(data, context={"home": home})
        except ValidationError as error:
            problems = "\n".join(
                f"  {'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
                for problem in error.errors()
            )
            raise InstanceConfigError(f"invalid settings in {path}:\n{problems}") from None
