"""Joining a Ray cluster, or starting a local one, within a bounded time; noticing within
seconds when the cluster is lost; keeping Ray's own notices out of our output."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ray

from solidflow.errors import ExecutorError

PROBE_INTERVAL = 1.0
"""Seconds between two looks at the cluster's head while a run uses it."""
PROBES_LOST = 3
"""Failed looks in a row after which the cluster counts as lost."""


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of an explicit address ("host:port" or "ray://host:port"), else None."""
    bare = address.removeprefix("ray://")
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _answers(host: str, port: int, timeout: float) -> str | None:
    """None if something accepts connections at host:port, else why not."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def wait_until_reachable(address: str, timeout: float) -> None:
    """Return once the cluster's address accepts connections; ExecutorError naming it after
    `timeout` seconds. Each look is short, so that Ctrl-C is honoured at once."""
    target = _host_port(address)
    if target is None:
        return
    host, port = target
    deadline = time.monotonic() + timeout
    while True:
        problem = _answers(host, port, min(1.0, max(timeout, 0.05)))
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise ExecutorError(
                f"Ray cluster at {address} is unreachable: nothing answered within "
                f"{timeout:g} s ({problem}); check the address, or raise "
                "execution.ray.connect_timeout"
            )
        time.sleep(0.2)


@contextlib.contextmanager
def _ray_notices_hidden(show: bool) -> Iterator[None]:
    """Keep Ray's warnings (the token notice, ...) off stderr unless `show`: Ray's logger
    prints them through a handler of its own, so only its level keeps them out; errors
    still show."""
    if show:
        yield
        return
    logger = logging.getLogger("ray")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Put back the SIGINT and SIGTERM handlers that `ray.init` replaces (it installs one
    that ends the process), so that the run's own cancel on those signals keeps working."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in kept.items():
            if handler is not None:
                signal.signal(signum, handler)


def connect(
    address: str | None,
    *,
    namespace: str,
    runtime_env: dict[str, Any] | None,
    timeout: float,
    show_ray_logs: bool,
    say: Callable[[str], None],
) -> None:
    """Join the cluster at `address`, or start a local Ray instance (None), unless this
    process is connected already; `say` reports progress."""
    if ray.is_initialized():
        return
    if address is not None:
        wait_until_reachable(address, timeout)
    say("starting a local Ray instance…" if address is None else f"joining Ray at {address}…")
    started = time.monotonic()
    with _ray_notices_hidden(show_ray_logs), _signal_handlers_kept():
        try:
            ray.init(
                address=address,
                runtime_env=runtime_env or None,
                namespace=namespace,
                log_to_driver=True,
                configure_logging=False,
            )
        except (ConnectionError, TimeoutError) as error:
            where = "a local Ray instance" if address is None else f"Ray cluster at {address}"
            raise ExecutorError(f"{where} is unreachable: {error}") from None
    resources = ray.cluster_resources()  # type: ignore[no-untyped-call]  # not annotated in Ray
    nodes = ray.nodes()  # type: ignore[no-untyped-call]  # not annotated in Ray
    say(
        f"Ray ready in {time.monotonic() - started:.1f} s: {len(nodes)} node(s), "
        f"{resources.get('CPU', 0):g} CPUs"
    )


class ClusterWatch:
    """Looks at the head of the connected cluster every PROBE_INTERVAL seconds, from a thread
    of its own; `lost` says why the cluster is gone, once it is."""

    def __init__(self) -> None:
        self.lost: str | None = None
        gcs = ray.get_runtime_context().gcs_address
        self._target = _host_port(gcs) if gcs else None
        self._stopped = threading.Event()
        if self._target is not None:
            threading.Thread(
                target=self._watch, args=self._target, name="solidflow-ray-watch", daemon=True
            ).start()

    def _watch(self, host: str, port: int) -> None:
        failures = 0
        while not self._stopped.wait(PROBE_INTERVAL):
            problem = _answers(host, port, PROBE_INTERVAL)
            failures = failures + 1 if problem is not None else 0
            if failures >= PROBES_LOST:
                self.lost = (
                    f"lost the Ray cluster: its head at {host}:{port} stopped answering "
                    f"({problem}) for {PROBES_LOST * PROBE_INTERVAL:g} s"
                )
                return

    def look_now(self) -> str | None:
        """Look at the head at once (a worker just died: was it with the head?); why the
        cluster is lost, or None."""
        if self.lost is None and self._target is not None:
            problem = _answers(*self._target, PROBE_INTERVAL)
            if problem is not None:
                host, port = self._target
                self.lost = (
                    f"lost the Ray cluster: its head at {host}:{port} stopped answering ({problem})"
                )
        return self.lost

    def stop(self) -> None:
        self._stopped.set()
