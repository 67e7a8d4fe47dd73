"""The spark resource: a SparkSession built from config, once per process per run, stopped at
the end of the run.

    modes=[Mode("prod", resources={"spark": spark_resource})]

    resources:
      spark:
        config:
          master: spark://spark-master:7077     # or local[*], k8s://..., yarn
          app_name: nightly-orders
          conf: {spark.executor.memory: 4g}
      # or, with Spark Connect: {remote: "sc://spark-connect:15002"}
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from solidflow.definitions.config import Config
from solidflow.definitions.resource import InitContext, resource
from solidflow.engine.step.error_info import error_info

CONNECT_MODE_VARIABLE = "SPARK_CONNECT_MODE_ENABLED"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SparkResourceError(Exception):
    """The Spark session could not be created."""


class SparkConfig(Config):
    """How to reach Spark: a `master` URL for a classic session, or `remote` for Spark Connect."""

    master: str | None = Field(
        default=None,
        description="local[*], spark://host:port[,host:port], k8s://https://host:port or yarn; "
        "local[*] when neither master nor remote is given",
    )
    remote: str | None = Field(
        default=None, description="a Spark Connect URL, sc://host:port; excludes master"
    )
    app_name: str = Field(default="solidflow", description="the Spark application name")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark settings, e.g. {spark.executor.memory: 2g}"
    )
    connect_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds to wait for the master or Connect server to accept a connection",
    )

    @model_validator(mode="after")
    def _one_endpoint(self) -> SparkConfig:
        if self.master and self.remote:
            raise ValueError("give either master or remote (Spark Connect), not both")
        if self.remote and urlsplit(self.remote).scheme != "sc":
            raise ValueError(
                f"remote must be a Spark Connect URL sc://host:port, not {self.remote!r}"
            )
        return self


def _endpoints(config: SparkConfig) -> list[tuple[str, int]]:
    """The (host, port) pairs that must accept connections before a session can start."""
    if config.remote:
        parts = urlsplit(config.remote)
        return [(parts.hostname or "localhost", parts.port or 15002)]
    master = config.master or ""
    if not master.startswith("spark://"):
        return []
    endpoints = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        endpoints.append((host, int(port) if port.isdigit() else 7077))
    return endpoints


def _check_reachable(config: SparkConfig) -> None:
    """Fail fast, with the address, when no master (or Connect server) accepts connections."""
    endpoints = _endpoints(config)
    problems = []
    for host, port in endpoints:
        try:
            socket.create_connection((host, port), timeout=config.connect_timeout).close()
            return
        except OSError as error:
            problems.append(f"{host}:{port}: {error.strerror or error}")
    if problems:
        target = config.remote or config.master
        raise SparkResourceError(f"Spark at {target} is unreachable ({'; '.join(problems)})")


def _on_this_host(config: SparkConfig) -> bool:
    master = config.master or "local[*]"
    if master.startswith("local"):
        return True
    endpoints = _endpoints(config)
    return bool(endpoints) and all(host in _LOOPBACK for host, _ in endpoints)


@contextlib.contextmanager
def _python_workers(config: SparkConfig) -> Iterator[None]:
    """While a classic session starts: unless PYSPARK_PYTHON says otherwise, Spark on this
    host runs Python workers with this process's interpreter (and so its packages). PySpark
    reads the variable once, when the SparkContext starts."""
    if config.remote or "PYSPARK_PYTHON" in os.environ or not _on_this_host(config):
        yield
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        yield
    finally:
        os.environ.pop("PYSPARK_PYTHON", None)


def build_session(config: SparkConfig) -> Any:
    """A SparkSession for `config`; SparkResourceError says in one line why there is none."""
    from pyspark.sql import SparkSession

    _check_reachable(config)
    builder = SparkSession.builder.appName(config.app_name)
    if config.remote:
        builder = builder.remote(config.remote)
    else:
        builder = builder.master(config.master or "local[*]")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in config.conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    try:
        with _python_workers(config):
            return builder.getOrCreate()
    except Exception as exc:
        target = config.remote or config.master or "local[*]"
        raise SparkResourceError(
            f"could not start a Spark session on {target}: {error_info(exc).message}"
        ) from None


@resource(config=SparkConfig)
def spark_resource(init_context: InitContext) -> Iterator[Any]:
    """A SparkSession (classic, or Spark Connect with `remote`), stopped at teardown."""
    # PySpark marks the whole process as Spark Connect once it built a Connect session, and
    # then refuses classic sessions: the mark goes with the session.
    marked_before = CONNECT_MODE_VARIABLE in os.environ
    session = build_session(init_context.config)
    try:
        yield session
    finally:
        session.stop()
        if not marked_before:
            os.environ.pop(CONNECT_MODE_VARIABLE, None)
