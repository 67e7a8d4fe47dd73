"""Free TCP ports for the servers the tests start, so that several test sessions (two
checkouts, or the xdist workers of one) can run on one machine at once."""

from __future__ import annotations

import random
import socket

RAY_PORTS = range(20_000, 28_000)
SPARK_PORTS = range(28_000, 32_500)
"""Where Ray and Spark clusters take their ports: apart, so that a cluster of one kind never
races one of the other kind for a port, above Ray's default worker ports (10002-19999), so that
a default `ray.init()` elsewhere cannot take them, and below Linux's ephemeral ports (from
32768), which the kernel hands out to outgoing connections."""


POSTGRES_PORTS = range(32_500, 32_640)
"""Where the PostgreSQL servers of the tests listen: one port each, above Spark's and below
the ephemeral ports."""

S3_PORTS = range(32_640, 32_760)
"""Where the S3 servers of the tests listen: one port each, above Spark's and below the
ephemeral ports."""


def port_is_free(port: int) -> bool:
    """Whether nothing listens on, or is bound to, `port` right now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def free_port_bases(ports: range, span: int, count: int = 3) -> list[int]:
    """Up to `count` random port bases P in `ports` such that P .. P+span-1 are all free now.
    A server started on one may still lose a race with another process: start it on the next
    base when it says its ports are in use."""
    bases = list(range(ports.start, ports.stop - span + 1, span))
    random.SystemRandom().shuffle(bases)
    found = []
    for base in bases:
        if all(port_is_free(port) for port in range(base, base + span)):
            found.append(base)
            if len(found) == count:
                break
    return found


def free_ports(ports: range, count: int = 5) -> list[int]:
    """Up to `count` random ports of `ports` that are free now (see `free_port_bases`)."""
    return free_port_bases(ports, 1, count)
