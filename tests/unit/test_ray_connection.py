"""Joining a Ray cluster: an address that does not answer fails soon, naming it."""

from __future__ import annotations

import socket
import time

import pytest

from solidflow.engine.executors.ray.connection import wait_until_reachable
from solidflow.errors import ExecutorError

pytestmark = pytest.mark.ray


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_address_fails_within_the_timeout_naming_it(scheme):
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(ExecutorError, match=f"Ray cluster at {address} is unreachable"):
        wait_until_reachable(address, timeout=1.0)
    assert time.monotonic() - started < 5


def test_a_listening_address_is_reachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        wait_until_reachable(f"127.0.0.1:{sock.getsockname()[1]}", timeout=1.0)
