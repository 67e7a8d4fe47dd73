"""A damaged events.db: every command that needs it says so in one message that names the
file and the command that recovers it, and `solidflow recover` sets the file aside and copies
what can still be read into a new event log."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from solidflow.engine.events.records import EventType
from tests.e2e.conftest import target


def _page_size_and_root(database: Path, table: str) -> tuple[int, int]:
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (size,) = conn.execute("PRAGMA page_size").fetchone()
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    conn.close()
    return size, root


def _damage_page(database: Path, page_size: int, page: int) -> None:
    with open(database, "r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(os.urandom(page_size))


def _one_message(done, database: Path) -> str:
    assert done.code == 2, (done.out, done.err)
    assert "Traceback" not in done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1, done.err
    assert str(database) in lines[0] and "damaged" in lines[0]
    assert "solidflow recover" in lines[0]
    return lines[0]


def test_a_damaged_runs_table_is_reported_and_recovered(cli, home, instance):
    first = cli("run", target("arithmetic"))
    second = cli("run", target("arithmetic"))
    assert first.code == second.code == 0
    run_ids = [run.run_id for run in instance.runs()]
    events_before = {run_id: len(instance.events(run_id)) for run_id in run_ids}
    instance.close()
    database = home / "events.db"
    page_size, root = _page_size_and_root(database, "runs")
    _damage_page(database, page_size, root)

    for command in (["run", target("arithmetic")], ["runs"], ["logs", "latest"]):
        _one_message(cli(*command), database)

    recovered = cli("recover")
    assert recovered.code == 0, recovered.err
    [aside] = [
        name
        for name in os.listdir(home)
        if name.startswith("events.db.damaged-") and not name.endswith(("-wal", "-shm"))
    ]
    assert aside in recovered.out
    assert f"{sum(events_before.values())} events" in recovered.out
    assert "2 runs rebuilt from their events" in recovered.out

    listed = cli("runs")
    assert listed.code == 0, listed.err
    for run_id in run_ids:
        assert run_id in listed.out
        assert cli("logs", run_id).code == 0
    again = cli("run", target("arithmetic"))
    assert again.code == 0, again.err
    assert len(cli("runs").out.split("SUCCESS")) == 4  # the two rebuilt runs and the new one


def test_damaged_event_pages_are_skipped_and_the_rest_recovered(cli, home, tmp_path):
    (tmp_path / "chatty.yaml").write_text("solids: {chatter: {config: {lines: 3000}}}\n")
    assert cli("run", target("chatty"), "-c", "chatty.yaml").code == 0
    assert cli("run", target("arithmetic")).code == 0
    database = home / "events.db"
    page_size, root = _page_size_and_root(database, "events")
    with open(database, "rb") as file:  # the root is an interior page: take a child leaf
        file.seek((root - 1) * page_size)
        page = file.read(page_size)
    assert page[0] == 0x05  # an interior table page
    cells = int.from_bytes(page[3:5], "big")
    middle = int.from_bytes(page[12 + 2 * (cells // 2) : 14 + 2 * (cells // 2)], "big")
    leaf = int.from_bytes(page[middle : middle + 4], "big")
    _damage_page(database, page_size, leaf)

    assert "chatty" in cli("runs").out  # the runs table is intact
    _one_message(cli("logs", _run_of(home, "chatty")), database)
    recovered = cli("recover")
    assert recovered.code == 0, recovered.err
    assert "could not be read" in recovered.out
    logs = cli("logs", _run_of(home, "chatty"))
    assert logs.code == 0 and "RUN_SUCCESS" in logs.out
    assert 2500 < logs.out.count("chatting") < 3000


def _run_of(home: Path, pipeline: str) -> str:
    with sqlite3.connect(home / "events.db") as conn:
        (run_id,) = conn.execute(
            "SELECT run_id FROM runs WHERE pipeline_name = ?", (pipeline,)
        ).fetchone()
    conn.close()
    return run_id


def test_recover_without_damage_says_so_and_changes_nothing(cli, home):
    assert cli("run", target("arithmetic")).code == 0
    done = cli("recover")
    assert done.code == 0
    assert "is not damaged" in done.out
    assert not [name for name in os.listdir(home) if "damaged" in name]
    assert EventType.RUN_SUCCESS.value in cli("logs", "latest").out
