"""What the tests of the local clusters share: where the scripts are, and how to look at the
processes and ports of a cluster."""

from __future__ import annotations

import socket
from collections.abc import Collection
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "cluster_configs" / "local"


def alive(pid: int) -> bool:
    """Whether the process runs (an exited one can linger unreaped as a zombie for a moment)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def marked_processes(marker: str, sessions: Collection[int] = ()) -> list[int]:
    """The running processes with `marker` ("NAME=value") in their environment, and those in
    the given sessions."""
    wanted = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            session = int((entry / "stat").read_text().rpartition(")")[2].split()[3])
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if session in sessions or wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def accepts_connections(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True
