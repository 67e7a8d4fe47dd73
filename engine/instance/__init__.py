"""The instance: solidflow's home directory, its settings, and the runs and events kept there.

Its exports are imported when first used, so that reading runs does not load the validation
of settings an instance without settings of its own does not need."""

import typing

from solidflow.exports import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from solidflow.engine.instance.config import EventLogConfig, InstanceConfig, StorageConfig
    from solidflow.engine.instance.config_file import CONFIG_FILE, InstanceConfigError
    from solidflow.engine.instance.instance import Instance

__getattr__, __dir__ = _lazy_exports(__name__)

__all__ = [
    "CONFIG_FILE",
    "EventLogConfig",
    "Instance",
    "InstanceConfig",
    "InstanceConfigError",
    "StorageConfig",
]
