"""Servers the tests start, one of each per test session (each xdist worker): a PostgreSQL
server (a fresh database per test: `postgres_url`) and an S3-compatible server, moto's (a
new, empty bucket per test: `s3_root`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from .ports import POSTGRES_PORTS, S3_PORTS, free_ports

T = TypeVar("T")


def _on_a_free_port(ports: range, start: Callable[[int], T], unavailable: type[Exception]) -> T:
    """`start(port)` on a free port of `ports`, again on another when it lost a race for it."""
    problems = []
    for port in free_ports(ports):
        try:
            return start(port)
        except unavailable as error:
            if "in use" not in str(error):
                raise
            problems.append(str(error))
    raise RuntimeError("no free port for the test server:\n" + "\n".join(problems))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server on 127.0.0.1 (see solidflow.integrations.postgres.local_server),
    with settings that trade durability for speed."""
    from solidflow.integrations.postgres.local_server import (
        PostgresUnavailable,
        start_local_postgres,
    )

    fast = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    server = _on_a_free_port(
        POSTGRES_PORTS, lambda port: start_local_postgres(port, fast), PostgresUnavailable
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """The URL of a new, empty database on the session's server (dropped after the test)."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")
    try:
        yield postgres_server.url(name)
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    """moto's S3 server on 127.0.0.1 (see solidflow.integrations.s3.local_server)."""
    from solidflow.integrations.s3.local_server import S3ServerUnavailable, start_local_s3

    server = _on_a_free_port(S3_PORTS, start_local_s3, S3ServerUnavailable)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_root(s3_server: Any) -> str:
    """`s3://<a new bucket>/store` on the session's S3 server."""
    bucket = f"t-{secrets.token_hex(6)}"
    s3_server.create_bucket(bucket)
    return f"s3://{bucket}/store"
