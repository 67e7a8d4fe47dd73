"""A full disk under the event log: the run stops with one clear message that says so and
where, keeps the events that were written, records itself as failed when space allows, and
prints no traceback. The home is a real 2 MiB file system (see tests/filesystems.py)."""

from __future__ import annotations

import os
import sqlite3
import sys

from solidflow import Instance
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from tests.e2e.conftest import target
from tests.filesystems import run_script, small_disk_command

SOLIDFLOW = os.path.join(os.path.dirname(sys.executable), "solidflow")


def test_a_full_disk_under_the_event_log_stops_the_run_cleanly(home, tmp_path):
    home.mkdir()
    saved = tmp_path / "saved"
    saved.mkdir()
    (tmp_path / "chatty.yaml").write_text("solids: {chatter: {config: {lines: 10000000}}}\n")
    sf = SOLIDFLOW
    script = (
        f"{sf} run {target('chatty')} -c chatty.yaml > run.out 2> run.err; echo $? > run.code; "
        f"{sf} runs > runs.out 2> runs.err; echo $? > runs.code; "
        f"cp -a {home}/. {saved}/"
    )
    env = {**os.environ, "SOLIDFLOW_HOME": str(home), "COLUMNS": "200"}
    done = run_script(small_disk_command(home, 2 * 2**20, script), env, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr

    out, err = (tmp_path / "run.out").read_text(), (tmp_path / "run.err").read_text()
    assert (tmp_path / "run.code").read_text().strip() == "1", (out, err)
    assert "Traceback" not in out + err
    last = out.strip().splitlines()[-1]
    assert "FAILURE" in last and "no space left" in last, last
    assert str(home / "events.db") in last

    runs_out = (tmp_path / "runs.out").read_text()
    assert (tmp_path / "runs.code").read_text().strip() == "0", (tmp_path / "runs.err").read_text()
    assert "FAILURE" in runs_out

    for name in os.listdir(saved):  # read the copy where it lies now, on a roomy disk
        if name.startswith("events.db"):
            os.replace(saved / name, home / name)
    with sqlite3.connect(home / "events.db") as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    conn.close()
    instance = Instance(home)
    [run] = instance.runs()
    assert run.status is RunStatus.FAILURE
    events = instance.events(run.run_id)
    assert events[0].type is EventType.RUN_START
    assert sum(1 for e in events if e.message.startswith("chatting")) > 1000
    assert events[-1].type is EventType.RUN_FAILURE
    assert "no space left" in events[-1].message
