"""A read-only home: the commands that only read (runs, logs, store ls, plan) work; a run
says in one message that it cannot be recorded there, and nothing in the home changes."""

from __future__ import annotations

import os
import sqlite3
import sys

import pytest

from tests.e2e.conftest import target
from tests.filesystems import read_only, run_script

SOLIDFLOW = os.path.join(os.path.dirname(sys.executable), "solidflow")


def _snapshot(home) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


@pytest.mark.parametrize("open_wal", [False, True], ids=["checkpointed", "wal-files-left"])
def test_reading_commands_work_on_a_read_only_home(open_wal, cli, home, tmp_path):
    assert cli("run", target("arithmetic")).code == 0
    assert cli("run", target("chatty")).code == 0
    if open_wal:  # a writer's WAL and shared-memory files were left behind, not checkpointed
        keeper = sqlite3.connect(home / "events.db", isolation_level=None)
        keeper.execute("BEGIN")  # a reader holds the WAL: the run's close cannot remove it
        keeper.execute("SELECT count(*) FROM runs").fetchone()
        assert cli("run", target("arithmetic")).code == 0
        os.system(f"cp {home}/events.db {home}/events.db-wal {home}/events.db-shm {tmp_path}")
        keeper.close()
        for name in ("events.db", "events.db-wal", "events.db-shm"):
            os.replace(tmp_path / name, home / name)
    expected_runs = 3 if open_wal else 2
    before = _snapshot(home)
    env = {**os.environ, "SOLIDFLOW_HOME": str(home), "COLUMNS": "200"}
    sf = SOLIDFLOW
    script = (
        f"{sf} runs > runs.out 2> runs.err; echo $? > runs.code; "
        f"{sf} logs latest > logs.out 2> logs.err; echo $? > logs.code; "
        f"{sf} store ls > store.out 2> store.err; echo $? > store.code; "
        f"{sf} plan {target('arithmetic')} --memoize > plan.out 2> plan.err; echo $? > plan.code; "
        f"{sf} run {target('arithmetic')} > run.out 2> run.err; echo $? > run.code"
    )
    with read_only(home) as wrap:
        done = run_script(wrap(script), env, tmp_path)
    assert done.returncode == 0, done.stderr

    def result(name: str) -> tuple[int, str, str]:
        return (
            int((tmp_path / f"{name}.code").read_text()),
            (tmp_path / f"{name}.out").read_text(),
            (tmp_path / f"{name}.err").read_text(),
        )

    code, out, err = result("runs")
    assert (code, err) == (0, ""), err
    assert out.count("SUCCESS") == expected_runs
    code, out, err = result("logs")
    assert (code, err) == (0, "") and "RUN_SUCCESS" in out
    code, out, err = result("store")
    assert (code, err) == (0, ""), err
    assert "outputs" in out
    code, out, err = result("plan")
    assert (code, err) == (0, ""), err
    assert "memoized" in out
    code, out, err = result("run")
    assert code == 2 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert "read-only" in line and str(home / "events.db") in line
    assert _snapshot(home) == before


def test_reading_commands_on_a_read_only_home_without_an_event_log(home, tmp_path):
    home.mkdir()
    env = {**os.environ, "SOLIDFLOW_HOME": str(home), "COLUMNS": "200"}
    with read_only(home) as wrap:
        done = run_script(wrap(f"{SOLIDFLOW} runs"), env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not list(home.iterdir())
