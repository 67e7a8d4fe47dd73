"""A throwaway PostgreSQL server on 127.0.0.1, for tests and benchmarks.

It runs the `initdb` and `pg_ctl` of the PostgreSQL installed on this host (Debian's
`postgresql` package puts them in /usr/lib/postgresql/<version>/bin), in a directory of its
own, as the current user, or as the `postgres` user when the current one is root (PostgreSQL
refuses to run as root). Clients connect without a password as the user `solidflow`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed; install them "
    "(Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql)"
)
_USER = "solidflow"
_START_TIMEOUT = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are missing, or the server did not start."""


def server_binaries() -> Path:
    """The directory of `initdb` and `pg_ctl`: the newest under /usr/lib/postgresql, else
    the one `pg_ctl` on PATH is in.

    Raises:
        PostgresUnavailable: neither is there.
    """
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    found = versions[-1] if versions else shutil.which("pg_ctl")
    if found is None:
        raise PostgresUnavailable(INSTALL_HINT)
    return Path(os.path.realpath(found)).parent


def _server_account() -> str | None:
    """The account to run the server as: None for the current one, "postgres" for root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "PostgreSQL does not run as root and there is no 'postgres' user to run it as"
        ) from None
    return "postgres"


@dataclass(frozen=True)
class LocalPostgres:
    """A running server: its port, its data directory and the account it runs as."""

    port: int
    directory: Path
    account: str | None
    binaries: Path

    def url(self, database: str = "postgres") -> str:
        """The connection URL of `database` on this server."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binaries / command[0]), *command[1:]],
            user=self.account,
            capture_output=True,
            text=True,
            check=check,
            timeout=_START_TIMEOUT,
            cwd="/",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        self._run("pg_ctl", "stop", "-D", str(self.directory / "data"), "-m", "fast", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_local_postgres(
    port: int, settings: Mapping[str, str] | None = None, parent: str | None = None
) -> LocalPostgres:
    """Create a database cluster in a new temporary directory (under `parent`) and start its
    server on 127.0.0.1:`port` with `settings` (postgresql.conf names and values).

    Raises:
        PostgresUnavailable: the programs are missing, or the server did not start (the
            message has the server's log; a port already in use says "in use").
    """
    binaries = server_binaries()
    account = _server_account()
    directory = Path(tempfile.mkdtemp(prefix="sfpg", dir=parent))
    server = LocalPostgres(port=port, directory=directory, account=account, binaries=binaries)
    if account is not None:
        entry = pwd.getpwnam(account)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    data, log = directory / "data", directory / "server.log"
    try:
        server._run(
            "initdb", "-D", str(data), "-U", _USER, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(directory),
            "max_connections": "200",
            **(settings or {}),
        }
        flags = " ".join(f"-c {name}={value}" for name, value in options.items())
        started = server._run(
            "pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-o", flags, check=False
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {error.stderr.strip()}") from None
    if started.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else started.stderr
        shutil.rmtree(directory, ignore_errors=True)
        raise PostgresUnavailable(f"the PostgreSQL server did not start:\n{text.strip()}")
    return server


def wait_until_accepting(url: str, timeout: float = 30.0) -> None:
    """Wait until the server at `url` takes connections."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
