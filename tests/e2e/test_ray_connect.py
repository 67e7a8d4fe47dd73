"""`solidflow run` on Ray, without a cluster: a fully memoized run never joins Ray, and an
address that does not answer fails the run soon, naming it."""

from __future__ import annotations

import socket
import time

import pytest

from .conftest import target

pytestmark = pytest.mark.ray


def _closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_fully_memoized_run_does_not_join_ray(cli):
    assert cli("run", target("arithmetic"), "--executor", "in_process").code == 0
    started = time.monotonic()
    done = cli("run", target("arithmetic"), "--address", _closed_address(), "--memoize")
    assert done.code == 0, done.out + done.err
    assert "memoized" in done.out and "Ray" not in done.out + done.err
    assert time.monotonic() - started < 30


def test_an_unreachable_address_fails_the_run_naming_it(cli, tmp_path):
    address = _closed_address()
    (tmp_path / "quick.yaml").write_text("execution:\n  ray:\n    connect_timeout: 1\n")
    started = time.monotonic()
    done = cli("run", target("arithmetic"), "--address", address, "-c", "quick.yaml")
    assert time.monotonic() - started < 30
    assert done.code == 1, done.out + done.err
    assert f"Ray cluster at {address} is unreachable" in done.out
    assert "Traceback" not in done.out + done.err
