"""The instance: solidflow's home directory, its settings, and the runs and events kept there."""

from solidflow.engine.instance.config import (
    CONFIG_FILE,
    EventLogConfig,
    InstanceConfig,
    InstanceConfigError,
    StorageConfig,
)
from solidflow.engine.instance.instance import Instance

__all__ = [
    "CONFIG_FILE",
    "EventLogConfig",
    "Instance",
    "InstanceConfig",
    "InstanceConfigError",
    "StorageConfig",
]
