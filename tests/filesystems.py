"""Real file systems in trouble for the tests: a read-only home and a small, filling disk.

Both run the command under test in a private mount namespace (`unshare`), so that the mount
is seen by that command only and vanishes with it: as root a plain mount namespace, otherwise
one inside a user namespace (where the user may mount a tmpfs or a bind mount). Where a
non-root user has no user namespaces, a read-only home is made by taking away the write
permission instead (EACCES rather than EROFS), and a small disk by a file size limit on the
command (RLIMIT_FSIZE with SIGXFSZ ignored: writes past it fail with EFBIG, which SQLite
reports like a full disk): see `small_disk_command`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def _namespace() -> list[str] | None:
    """The unshare prefix that gives a private mount namespace here, None if none works."""
    prefix = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-r", "--mount"]
    if shutil.which("unshare") is None:
        return None
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except OSError:
        return None
    return prefix if done.returncode == 0 else None


def _in_namespace(prefix: list[str], setup: str, script: str) -> list[str]:
    return [*prefix, "sh", "-c", f"{setup} && {script}"]


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Callable[[str], list[str]]]:
    """A function that turns a shell script into a command that runs it where `path` (a
    directory) is read-only: a read-only bind mount of it, else without write permission."""
    prefix = _namespace()
    if prefix is not None:
        quoted = shlex.quote(str(path))
        yield lambda script: _in_namespace(prefix, f"mount --bind -o ro {quoted} {quoted}", script)
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~0o222)
    try:
        yield lambda script: ["sh", "-c", script]
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def small_disk_command(path: Path, size: int, script: str) -> list[str]:
    """A command that runs shell `script` with a fresh `size`-byte tmpfs mounted on `path`
    (a directory); without mount namespaces, with the file size limited to `size` instead."""
    prefix = _namespace()
    if prefix is not None:
        mount = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(path))}"
        return _in_namespace(prefix, mount, script)
    limit = max(1, size // 1024)  # ulimit -f counts 1 KiB blocks
    return ["sh", "-c", f"trap '' XFSZ; ulimit -f {limit} && {script}"]


def run_script(command: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 120):
    return subprocess.run(
        list(command), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
