"""A throwaway S3-compatible server on 127.0.0.1 (moto's standalone server, from
`pip install 'moto[server]'`), for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

_START_TIMEOUT = 60.0
ACCESS_KEY = "solidflow"
SECRET_KEY = "solidflow-secret"
REGION = "us-east-1"


class S3ServerUnavailable(RuntimeError):
    """The S3 server did not start (a port taken by another process says "in use")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalS3:
    """A running moto server: its endpoint and its process (the leader of its own session)."""

    endpoint_url: str
    process: subprocess.Popen[bytes]

    @property
    def storage_options(self) -> dict[str, Any]:
        """The s3fs options (a store's `storage_options`) that reach this server."""
        return {"key": ACCESS_KEY, "secret": SECRET_KEY, "endpoint_url": self.endpoint_url}

    @property
    def environment(self) -> dict[str, str]:
        """Environment variables that point AWS clients (boto3, s3fs) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
        }

    def create_bucket(self, name: str) -> None:
        """Create the bucket `name`."""
        import s3fs

        s3fs.S3FileSystem(**self.storage_options).mkdir(name)

    def stop(self) -> None:
        """Stop the server (its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_local_s3(port: int) -> LocalS3:
    """Start moto's server on 127.0.0.1:`port` in a new session and wait until it answers.

    Raises:
        S3ServerUnavailable: it exited (its error says "in use" when the port was taken), or
            did not answer within a minute.
    """
    # Its log goes to a file, read if it fails: it logs every request, so a pipe would fill.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        server = LocalS3(endpoint_url=f"http://127.0.0.1:{port}", process=process)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                error = log.read().decode(errors="replace").strip()
                raise S3ServerUnavailable(f"moto's server exited: {error[-2000:]}")
            try:
                urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2).close()
                return server
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    server.stop()
                    message = f"moto's server did not answer on port {port}"
                    raise S3ServerUnavailable(message) from None
                time.sleep(0.1)
