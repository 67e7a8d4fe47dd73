"""`solidflow ui`: bind, say where, and serve the app with uvicorn."""

from __future__ import annotations

import os
import socket
import sys

import uvicorn

from solidflow import Instance
from solidflow.web.app import create_app
from solidflow.web.workspace import Workspace

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(workspace: Workspace, instance: Instance, host: str, port: int, read_only: bool) -> None:
    """Serve the UI and API until interrupted; port 0 takes a free port (printed)."""
    if host not in _LOOPBACK:
        print(
            f"warning: serving on {host}: anyone who can reach this address can see and "
            "launch runs (bind to 127.0.0.1 unless that is what you want)",
            file=sys.stderr,
            flush=True,
        )
    os.chdir(workspace.root)  # runs' drivers start here, so module targets load as listed
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(
        workspace,
        instance,
        read_only=read_only,
        allowed_hosts={"*"} if host in ("0.0.0.0", "::") else {host},
    )
    print(f"solidflow UI: http://{shown}:{bound}/", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    server.run(sockets=[sock])
