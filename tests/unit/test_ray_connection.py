"""Joining a Ray cluster: an address that does not answer fails soon, naming it; Ray's own
warnings (its token-authentication notice, ...) stay out of our output unless asked for."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from solidflow.engine.executors.ray.connection import _ray_notices_hidden, wait_until_reachable
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


NOTICE = "Token authentication is enabled for this Ray cluster."


@pytest.fixture
def ray_log() -> Iterator[list[str]]:
    """What reaches the handlers of Ray's logger (Ray prints through one of its own)."""
    import ray  # noqa: F401  (importing Ray sets up its logger)

    seen: list[str] = []
    recorder = logging.Handler()
    recorder.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("ray")
    logger.addHandler(recorder)
    yield seen
    logger.removeHandler(recorder)


def _warn_and_fail() -> None:
    module_logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    module_logger.warning(NOTICE)
    module_logger.error("the raylet died")


def test_rays_warnings_are_hidden_and_its_errors_shown(ray_log):
    level = logging.getLogger("ray").level
    with _ray_notices_hidden(show=False):
        _warn_and_fail()
    assert ray_log == ["the raylet died"]
    assert logging.getLogger("ray").level == level


def test_rays_warnings_are_shown_when_asked(ray_log):
    with _ray_notices_hidden(show=True):
        _warn_and_fail()
    assert ray_log == [NOTICE, "the raylet died"]
