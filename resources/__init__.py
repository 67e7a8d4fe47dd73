"""Built-in resources: environment concerns that solids reach through context.resources."""

from solidflow.resources.file_cache import (
    FileCache,
    FileCacheConfig,
    FsspecFileCache,
    LocalFileCache,
    file_cache,
    file_cache_for,
)
from solidflow.resources.spark import SparkConfig, SparkResourceError, spark_resource

__all__ = [
    "FileCache",
    "FileCacheConfig",
    "FsspecFileCache",
    "LocalFileCache",
    "SparkConfig",
    "SparkResourceError",
    "file_cache",
    "file_cache_for",
    "spark_resource",
]
