"""Store locations as the URLs Spark's Hadoop filesystems understand."""

from __future__ import annotations

import os

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
