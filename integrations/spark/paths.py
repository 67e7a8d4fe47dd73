"""Store locations as the URLs Spark's Hadoop filesystems understand."""

from __future__ import annotations

import os
import re

from fsspec.core import split_protocol

# fsspec protocol -> Hadoop filesystem scheme, where they differ.
_HADOOP_SCHEMES = {"s3": "s3a", "gcs": "gs", "az": "abfs", "local": "file"}


def spark_url(location: str) -> str:
    """`location` (a local path or an fsspec URL) as a URL Spark can read and write."""
    split: tuple[str | None, str] = split_protocol(location)
    protocol, path = split
    if protocol is None:
        return "file://" + os.path.abspath(path)
    return f"{_HADOOP_SCHEMES.get(protocol, protocol)}://{path}"


# What a Hadoop filesystem class that is not on the classpath names (s3a's is in hadoop-aws).
_FILESYSTEM_JARS = {"s3a": "hadoop-aws and the AWS SDK bundle", "gs": "the GCS connector"}


def lacks_filesystem(error: BaseException, url: str) -> bool:
    """Whether `error` (from Spark) says it has no Hadoop filesystem for `url`'s scheme."""
    scheme = url.split("://", 1)[0]
    text = str(error)
    missing_class = re.search(
        r"ClassNotFoundException: Class org\.apache\.hadoop\.fs\.\S+ not found", text
    )
    return missing_class is not None or f'No FileSystem for scheme "{scheme}"' in text


def no_filesystem_message(url: str) -> str:
    """Why Spark cannot write or read `url`, and what would let it."""
    scheme = url.split("://", 1)[0]
    jars = _FILESYSTEM_JARS.get(scheme, "its Hadoop filesystem")
    return (
        f"Spark has no filesystem for {scheme}:// URLs (put {jars}, matching Spark's Hadoop "
        "version, on its classpath: spark.jars)"
    )
